import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { ExitCode, ShadowtapError, usageError } from '../shared/errors.js';
import { parseHttpUrl } from '../shared/http/http-url.js';
import { defaultLogOptions, type LogOptions } from '../shared/log/open-log.js';

/** Flags every command that touches a log shares: `--brokers` for Kafka or `--store` for the file log. */
export function addLogOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--brokers <list>', 'Kafka bootstrap brokers, host:port[,host:port]; omit to use the embedded file log').env(
        'KAFKA_BROKERS',
      ),
    )
    .addOption(
      new Option('--store <dir>', 'folder of the embedded Avro file log (used when no --brokers)')
        .env('SHADOWTAP_STORE')
        .default(defaultLogOptions.store),
    )
    .addOption(new Option('--topic-prefix <prefix>', 'Kafka topic prefix').default(defaultLogOptions.topicPrefix))
    .addOption(
      new Option('--schema-registry <url>', 'Confluent Schema Registry: Kafka records in its wire format (schemas registered under <topic>-value)')
        .env('SHADOWTAP_SCHEMA_REGISTRY')
        .argParser((v) => parseUrl(v, '--schema-registry').href.replace(/\/$/, '')),
    )
    .addOption(
      new Option('--partitions <n>', 'partitions of topics shadowtap creates')
        .default(defaultLogOptions.partitions)
        .argParser((v) => parsePositiveInt(v, '--partitions')),
    )
    .addOption(
      new Option('--retention <duration>', "Kafka: how long topics keep records (7d, 36h, or 'forever'): topics shadowtap creates get it, an existing topic that keeps less is refused; default the broker's")
        .argParser(parseRetention),
    )
    .hook('preAction', (self) => {
      // A --store typed on the command line is a clearer wish than KAFKA_BROKERS left in the environment.
      if (self.getOptionValueSource('store') === 'cli' && self.getOptionValueSource('brokers') === 'env') {
        self.setOptionValueWithSource('brokers', undefined, 'cli');
      }
    });
}

export function logOptionsFrom(opts: { brokers?: string; store?: string; topicPrefix?: string; partitions?: number; storePartitions?: number; schemaRegistry?: string; retention?: number }): LogOptions {
  return {
    storePartitions: opts.storePartitions,
    retentionMs: opts.retention,
    schemaRegistry: opts.schemaRegistry,
    brokers: opts.brokers ? parseList(opts.brokers) : undefined,
    store: opts.store,
    topicPrefix: opts.topicPrefix,
    partitions: opts.partitions,
  };
}

/** A duration such as 7d or 36h, or 'forever' (-1, Kafka's retention.ms for no limit). */
function parseRetention(value: string): number {
  return value.trim() === 'forever' ? -1 : parseDuration(value, '--retention');
}

/** A comma-separated list, entries trimmed, empty ones left out. */
export function parseList(value: string): string[] {
  return value.split(',').map((v) => v.trim()).filter(Boolean);
}

export function parsePositiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw usageError(`${flag} must be a positive integer; got "${value}"`);
  return n;
}

export function parseNonNegative(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw usageError(`${flag} must be a number of 0 or more; got "${value}"`);
  return n;
}

export function parsePositiveNumber(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw usageError(`${flag} must be a positive number; got "${value}"`);
  return n;
}

/** A share as a fraction (0.01) or a percentage (1%), between 0 and 1. */
export function parseRate(value: string, flag: string): number {
  const text = value.trim();
  const n = text.endsWith('%') ? Number(text.slice(0, -1)) / 100 : Number(text);
  if (text === '' || text === '%' || !(n >= 0 && n <= 1)) throw usageError(`${flag} must be a share between 0 and 1 (0.01 = 1%); got "${value}"`);
  return n;
}

/** A percentage of 0 or more (20 or 20%), at most MAX. */
export function parsePercent(value: string, flag: string, max = Infinity): number {
  const text = value.trim().replace(/%$/, '');
  const n = Number(text);
  if (text === '' || !(n >= 0 && n <= max)) throw usageError(`${flag} must be a percentage of 0 or more${max < Infinity ? ` and at most ${max}` : ''}, e.g. 20; got "${value}"`);
  return n;
}

const durationUnits = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const durationPattern = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** "90s", "30m", "1.5h", "2d", in ms. */
export function parseDuration(value: string, flag: string): number {
  const ms = durationMs(value.trim());
  if (ms === undefined) throw usageError(`${flag} must be a duration such as 30m, 24h or 2d; got "${value}"`);
  return ms;
}

function durationMs(text: string): number | undefined {
  const match = durationPattern.exec(text);
  return match ? Number(match[1]) * durationUnits[match[2] as keyof typeof durationUnits] : undefined;
}

/** Parses an ISO-8601 time, a Unix time in ms, "now", or a relative time like "-15m" / "-2h" (before now). */
export function parseTime(value: string, flag: string): number {
  if (value.trim() === 'now') return Date.now();
  const before = value.trim().startsWith('-') ? durationMs(value.trim().slice(1)) : undefined;
  if (before !== undefined) return Date.now() - before;
  if (/^\d{10,}$/.test(value)) return Number(value);
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) {
    throw usageError(`${flag} must be an ISO time (2026-11-26T10:00:00Z), ms since the epoch, or relative (-15m); got "${value}"`);
  }
  return ms;
}

/** Parses "host:port", ":port" or "port" as a listen address. */
export function parseListen(value: string, flag = '--listen'): { host: string; port: number } {
  const match = /^(?:(.*):)?(\d+)$/.exec(value.trim());
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) throw usageError(`${flag} must be [host]:port, e.g. :8080; got "${value}"`);
  return { host: match[1] || '0.0.0.0', port };
}

export function parseUrl(value: string, flag: string): URL {
  return parseHttpUrl(value, flag);
}

/**
 * Wraps a command action: every failure becomes one line on stderr and its exit code.
 */
export function action<A extends unknown[]>(run: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await run(...args);
      process.exitCode = code ?? 0;
    } catch (error) {
      reportFailure(error);
    }
  };
}

const systemReasons: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'the disk is full',
  EROFS: 'read-only file system',
  EISDIR: 'is a folder, not a file',
  ENOTDIR: 'a part of the path is not a folder',
  EMFILE: 'too many open files (raise the limit with ulimit -n)',
};

/**
 * Writes one line for any failure and sets the exit code. A ShadowtapError carries its own
 * message and code; a system error (disk full, permission) is a runtime failure named by its
 * path; anything else is a bug, still one line, with its stack only when SHADOWTAP_DEBUG is set.
 */
export function reportFailure(error: unknown): void {
  if (error instanceof ShadowtapError) {
    process.stderr.write(`shadowtap: ${error.message}\n`);
    process.exitCode = error.exitCode;
    return;
  }
  const system = error as NodeJS.ErrnoException;
  const reason = typeof system?.code === 'string' ? systemReasons[system.code] : undefined;
  if (reason) {
    process.stderr.write(`shadowtap: ${system.syscall ?? 'operation'} ${system.path ?? ''} failed: ${reason}\n`.replace('  ', ' '));
  } else {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`shadowtap: unexpected failure: ${message.split('\n')[0]} (a bug; set SHADOWTAP_DEBUG=1 for details and report it)\n`);
    if (process.env.SHADOWTAP_DEBUG) process.stderr.write(`${(error as Error)?.stack ?? ''}\n`);
  }
  process.exitCode = ExitCode.runtime;
}

/**
 * Fails before any work when FILE cannot be written (its folder missing or read-only), so a
 * long diff or replay never ends with its report lost. Leaves no file behind.
 */
export async function checkWritable(file: string, flag: string): Promise<void> {
  const target = resolve(file);
  const existing = await stat(target).catch(() => undefined);
  if (existing?.isDirectory()) throw usageError(`${flag} ${file} is a folder; give a file name`);
  const probe = existing ? target : dirname(target);
  try {
    await access(probe, constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? `folder ${dirname(target)} does not exist; create it first` : `${probe} is not writable`;
    throw usageError(`${flag} ${file}: ${why}`);
  }
}

/**
 * Commander checks mandatory options before unknown ones, so `replay --bogus` would complain
 * about --target. Mandatory options are checked instead after commander's own checks (unknown
 * flags first), in a preAction hook, with the same message.
 */
export function checkUnknownFlagsFirst(program: Command): void {
  const walk = (command: Command) => {
    const mandatory = command.options.filter((option) => option.mandatory);
    for (const option of mandatory) option.mandatory = false;
    if (mandatory.length > 0) {
      command.hook('preAction', (self) => {
        const missing = mandatory.find((option) => self.getOptionValue(option.attributeName()) === undefined);
        if (missing) throw usageError(`required option '${missing.flags}' not specified (run with --help for usage)`);
      });
    }
    command.commands.forEach(walk);
  };
  walk(program);
}
