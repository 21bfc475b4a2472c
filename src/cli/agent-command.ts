import type { Command } from 'commander';
export function registerAgentCommand(program: Command): void {
  program.action(() => { process.stdout.write('agent: not yet\n'); });
}
