import { Command } from 'commander';
import { registerCommands } from '../../cli/commands/index.js';
import { registerConfig } from '../../cli/commands/config.js';
import { registerGate } from '../../cli/commands/gate.js';
import { applyConfigFile } from '../../cli/config-hook.js';

/** The shadowtap program as cli/main.ts builds it, to check deploy files against the real flags. */
export async function shadowtapProgram(): Promise<Command> {
  const program = new Command('shadowtap').exitOverride();
  // No command named: every command is registered.
  await registerCommands(program, ['node', 'shadowtap']);
  const has = (name: string) => program.commands.some((c) => c.name() === name);
  if (!has('config')) registerConfig(program);
  if (!has('gate')) registerGate(program);
  applyConfigFile(program);
  return program;
}

/**
 * Flags in `argv` (a shadowtap command line without `shadowtap`) that its command does not
 * have; null when the command itself is not registered.
 */
export function unknownFlags(program: Command, argv: readonly string[]): string[] | null {
  const command = program.commands.find((c) => c.name() === argv[0]);
  if (!command) return null;
  const known = new Set(['--help', '-h', ...[...program.options, ...command.options].flatMap((o) => [o.long, o.short].filter((f): f is string => !!f))]);
  return argv.filter((arg) => /^--?[a-zA-Z]/.test(arg)).map((arg) => arg.split('=')[0]!).filter((flag) => !known.has(flag));
}

/** The shadowtap command lines a container or compose service runs: its args, or each `main.js …` line of a shell script. */
export function shadowtapInvocations(command: readonly string[] | undefined, args: readonly string[] | undefined): string[][] {
  if (command?.[0] === 'sh') {
    const script = [...command.slice(2), ...(args ?? [])].join('\n');
    return [...script.matchAll(/main\.js ([^\n;&|]+)/g)].map((m) => m[1]!.trim().split(/\s+/));
  }
  return args && args.length > 0 ? [[...args]] : [];
}
