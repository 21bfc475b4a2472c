// Placeholder until the rules slice lands; replaced by its owner.
import type { Command } from 'commander';
export function registerRulesCommand(_program: Command): void {}
