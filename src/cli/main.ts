// Entry point: the default command is the agent with kflowd's flags; subcommands are
// registered by their own modules so each slice owns its CLI surface.
import { Command } from 'commander';
import { registerAgentCommand } from './agent-command.js';
import { registerPrintCommand } from './print-command.js';
import { registerRulesCommand } from './rules-command.js';
import { registerProcessCommand } from './process-command.js';
// delivery (helper spool): spool inspect/verify
import { registerSpoolCommand } from './spool-command.js';

export function buildProgram(): Command {
  const program = new Command('falconet');
  registerAgentCommand(program);
  registerPrintCommand(program);
  registerRulesCommand(program);
  registerProcessCommand(program);
  // delivery (helper spool)
  registerSpoolCommand(program);
  return program;
}

const program = buildProgram();
program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`falconet: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
