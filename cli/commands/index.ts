import type { Command } from 'commander';
import { configEnvVar } from '../config-hook.js';

type Register = (program: Command) => void;

/** Each subcommand lives in its own file and only parses flags, then hands a typed context to its stage. */
const commands: Array<[name: string, load: () => Promise<Register>]> = [
  ['capture', async () => (await import('./capture.js')).registerCapture],
  ['replay', async () => (await import('./replay.js')).registerReplay],
  ['soak', async () => (await import('./soak.js')).registerSoak],
  ['demo', async () => (await import('./demo.js')).registerDemo],
  ['diff', async () => (await import('./diff.js')).registerDiff],
  ['report', async () => (await import('./report.js')).registerReport],
  ['gate', async () => (await import('./gate.js')).registerGate],
  ['import', async () => (await import('./import.js')).registerImport],
  ['inspect', async () => (await import('./inspect.js')).registerInspect],
  ['keys', async () => (await import('./keys.js')).registerKeys],
  ['config', async () => (await import('./config.js')).registerConfig],
  ['sample-app', async () => (await import('./sample-app.js')).registerSampleApp],
];

/**
 * Registers the command `argv` asks for, and only it: a command's stage modules (undici, kafkajs,
 * the capture agent, the diff) are most of a start. Every command is registered for what needs
 * them all: no command or an unknown one (help, suggestions), `config` and a config file (its
 * sections are checked against every command's options).
 */
export async function registerCommands(program: Command, argv: string[]): Promise<void> {
  const asked = argv.slice(2).find((arg) => !arg.startsWith('-'));
  const one = commands.find(([name]) => name === asked && name !== 'config');
  const configured = argv.some((arg) => arg === '--config' || arg.startsWith('--config=')) || process.env[configEnvVar] !== undefined;
  const wanted = one && !configured ? [one] : commands;
  const registers = await Promise.all(wanted.map(([, load]) => load()));
  for (const register of registers) register(program);
}
