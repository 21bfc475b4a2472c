// Placeholder until the print slice lands; replaced by its owner.
import type { Command } from 'commander';
export function registerPrintCommand(_program: Command): void {}
