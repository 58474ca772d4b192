import type { Command } from 'commander';

/** Each subcommand lives in its own file and only parses flags, then hands a typed context to its stage. */
export function registerCommands(program: Command): void {
  void program;
}
