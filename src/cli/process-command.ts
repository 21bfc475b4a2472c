// Placeholder until the process slice lands; replaced by its owner.
import type { Command } from 'commander';
export function registerProcessCommand(_program: Command): void {}
