import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { ReplayMetrics } from '../../replay/replay-metrics.js';
import { serveMetrics } from '../../shared/metrics-server.js';
import { ProgressReporter } from '../../replay/progress-reporter.js';
import { replayDefaults } from '../../replay/replay-defaults.js';
import type { ReplayOptions } from '../../replay/replay-options.js';
import { createReplay } from '../../replay/replay-worker.js';
import { formatReplaySummary } from '../../replay/summary-text.js';
import { ShadowtapError, usageError } from '../../shared/errors.js';
import { openLog } from '../../shared/log/open-log.js';
import { captureKind, resultKind, type RecordLog } from '../../shared/log/record-log.js';
import type { Capture, Header, Result } from '../../shared/records/types.js';
import { readOpeningKey } from '../../shared/redaction/seal-key-files.js';
import type { OpeningKey } from '../../shared/redaction/seal.js';
import { addRedactionOptions, redactionFrom } from '../redaction-flags.js';
import { storePartitionsOption } from '../store-partitions-option.js';
import { action, addLogOptions, checkWritable, logOptionsFrom, parseList, parseListen, parseNonNegative, parsePositiveInt, parsePositiveNumber, parseTime, parseUrl } from '../common.js';

/** Flags of how requests are sent, shared by `replay` and `soak`. */
type RedactionFlags = Parameters<typeof redactionFrom>[0];

export interface SendFlags extends RedactionFlags {
  target: URL;
  concurrency: number;
  allowMethods: string;
  guardedWrites: boolean;
  setHeader: Header[];
  removeHeader: string[];
  pathPrefixRewrite?: { from: string; to: string };
  hostRewrite?: string;
  /** A URL, false for --no-reference, undefined when neither was given. */
  reference?: URL | false;
  timeout: number;
  retries: number;
  breakerFailures: number;
  breakerProbeInterval: number;
  maxBody: number;
  sealPrivateKey: OpeningKey[];
  allowMasked?: boolean;
  drainTimeout: number;
  metricsListen?: { host: string; port: number };
  summaryJson?: string;
  progress: boolean;
  brokers?: string;
  store?: string;
  topicPrefix?: string;
  partitions?: number;
  storePartitions?: number;
}

const collect = <T>(parse: (value: string) => T) => (value: string, previous: T[] = []) => [...previous, parse(value)];

function parseHeader(value: string): Header {
  const colon = value.indexOf(':');
  if (colon <= 0) throw usageError(`--set-header must be name:value (value may be env:NAME); got "${value}"`);
  return { name: value.slice(0, colon).trim(), value: value.slice(colon + 1).trim() };
}

function parsePrefixRewrite(value: string): { from: string; to: string } {
  const [from, to, ...rest] = value.split('=');
  if (!from?.startsWith('/') || to === undefined || !to.startsWith('/') || rest.length > 0) {
    throw usageError(`--path-prefix-rewrite must be /from=/to, e.g. /api/v1=/v2; got "${value}"`);
  }
  return { from, to };
}

function parseNonNegativeInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw usageError(`${flag} must be 0 or a positive integer; got "${value}"`);
  return n;
}

/** Adds the sending flags (target, guard, headers, resilience, output) to `replay` or `soak`. */
export function addSendOptions(command: Command): Command {
  command
    .addOption(new Option('--target <url>', 'the shadow: the only origin requests are sent to').env('SHADOWTAP_TARGET').argParser((v) => parseUrl(v, '--target')).makeOptionMandatory())
    .addOption(new Option('--concurrency <n>', 'requests in flight at most').default(replayDefaults.concurrency).argParser((v) => parsePositiveInt(v, '--concurrency')))
    .addOption(new Option('--allow-methods <list>', 'methods that are always sent; unsafe ones go only to a shadow proven guarded by shadowtap/shadow').default(replayDefaults.allowMethods.join(',')))
    .addOption(new Option('--no-guarded-writes', 'skip unsafe methods not in --allow-methods even when the shadow proves it is guarded'))
    .addOption(new Option('--set-header <name:value>', 'add or replace a header (repeatable); value env:NAME reads the environment').argParser(collect(parseHeader)).default([]))
    .addOption(new Option('--remove-header <name>', 'drop a recorded header (repeatable)').argParser(collect((v) => v)).default([]))
    .addOption(new Option('--path-prefix-rewrite </from=/to>', 'replace a path prefix').argParser(parsePrefixRewrite))
    .addOption(new Option('--host-rewrite <host>', 'Host header to send instead of the recorded one (connections go to --target only)'))
    .addOption(
      new Option('--reference <url>', 'a stable instance sent each safe request at the same moment as the target; the diff compares the shadow with its answers (needed for request-only captures)')
        .env('SHADOWTAP_REFERENCE')
        .argParser((v) => parseUrl(v, '--reference')),
    )
    .addOption(new Option('--no-reference', 'replay request-only captures (capture --mirror-target) without a reference: load and error checks only'))
    .addOption(new Option('--timeout <ms>', 'per-request timeout').default(replayDefaults.timeoutMs).argParser((v) => parsePositiveInt(v, '--timeout')))
    .addOption(new Option('--retries <n>', 'extra attempts after a connection failure (refused/reset) only').default(replayDefaults.retries).argParser((v) => parseNonNegativeInt(v, '--retries')))
    .addOption(new Option('--breaker-failures <n>', 'consecutive connection failures that pause sending').default(replayDefaults.breakerFailures).argParser((v) => parsePositiveInt(v, '--breaker-failures')))
    .addOption(new Option('--breaker-probe-interval <ms>', 'while paused, one probe request this often').default(replayDefaults.breakerProbeIntervalMs).argParser((v) => parsePositiveInt(v, '--breaker-probe-interval')))
    .addOption(new Option('--max-body <bytes>', 'shadow response bytes kept per Result').default(replayDefaults.maxBodyBytes).argParser((v) => parsePositiveInt(v, '--max-body')))
    .addOption(
      new Option('--seal-private-key <file>', 'private key (from shadowtap keys generate) that opens sealed captures, so the shadow gets the originals; repeatable for rotation')
        .env('SHADOWTAP_SEAL_PRIVATE_KEY')
        .argParser(collect((v) => readOpeningKey(v, '--seal-private-key')))
        .default([]),
    )
    .option('--allow-masked', 'send captures sealed to a key not given with their masked values (verdict altered) instead of stopping')
    .addOption(
      new Option('--drain-timeout <seconds>', 'on SIGTERM/SIGINT, how long requests in flight may finish')
        .default(replayDefaults.drainTimeoutMs / 1000)
        .argParser((v) => parsePositiveNumber(v, '--drain-timeout')),
    )
    .addOption(new Option('--metrics-listen <[host]:port>', 'serve Prometheus metrics on /metrics').argParser((v) => parseListen(v, '--metrics-listen')))
    .addOption(new Option('--summary-json <file>', 'also write the summary as JSON'))
    .addOption(new Option('--no-progress', 'no progress line on stderr'));
  // The answers are redacted by the capture's policy: the same flags, defined once.
  return addLogOptions(addRedactionOptions(command.addOption(storePartitionsOption())));
}

/** ReplayOptions fields that come from the sending flags. */
export function sendOptionsFrom(flags: SendFlags): Omit<ReplayOptions, 'source' | 'results'> {
  return {
    target: String(flags.target),
    concurrency: flags.concurrency,
    allowMethods: parseList(flags.allowMethods),
    guardedWrites: flags.guardedWrites,
    setHeaders: flags.setHeader,
    removeHeaders: flags.removeHeader,
    pathPrefixRewrite: flags.pathPrefixRewrite,
    hostRewrite: flags.hostRewrite,
    reference: flags.reference && String(flags.reference),
    timeoutMs: flags.timeout,
    retries: flags.retries,
    circuitBreaker: { failureThreshold: flags.breakerFailures, probeIntervalMs: flags.breakerProbeInterval },
    maxBodyBytes: flags.maxBody,
    redaction: redactionFrom(flags),
    sealKeys: flags.sealPrivateKey,
    allowMasked: flags.allowMasked,
    drainTimeoutMs: flags.drainTimeout * 1000,
  };
}

/**
 * Everything around a replay run that only a process has: the logs, signals (stop reading,
 * drain, commit, exit 0), the metrics endpoint, the progress line and the summary.
 */
export async function runReplayCommand<S extends object>(
  flags: SendFlags & { follow?: boolean },
  label: string,
  run: (context: { source: RecordLog<Capture>; results: RecordLog<Result>; signal: AbortSignal; extra: Pick<ReplayOptions, 'observers' | 'onProgress' | 'onWarning'> }) => Promise<S>,
  format: (summary: S) => string,
): Promise<number> {
  if (flags.summaryJson) await checkWritable(flags.summaryJson, '--summary-json');
  const logOptions = logOptionsFrom(flags);
  const opening = openLog(captureKind, { ...logOptions, existing: !flags.follow });
  // Kafka logs at once (a few round trips each, all before the first request); the file log's
  // results folder only once the captures are known to be there.
  const [source, results] = await openBoth(
    opening,
    logOptions.brokers ? openLog(resultKind, logOptions) : opening.then(() => openLog(resultKind, logOptions)),
  );
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  let metricsServer: Awaited<ReturnType<typeof serveMetrics>> | undefined;
  const progress = flags.progress ? new ProgressReporter(process.stderr, label) : undefined;
  try {
    const metrics = flags.metricsListen ? new ReplayMetrics() : undefined;
    if (metrics && flags.metricsListen) metricsServer = await serveMetrics(metrics.registry, flags.metricsListen);
    const summary = await run({
      source,
      results,
      signal: stop.signal,
      extra: {
        observers: metrics ? [metrics] : [],
        onProgress: progress && ((p) => progress.update(p)),
        onWarning: (message) => process.stderr.write(`\nshadowtap: ${message}\n`),
      },
    });
    progress?.finish();
    process.stdout.write(format(summary));
    if (flags.summaryJson) {
      try {
        await writeFile(flags.summaryJson, `${JSON.stringify(summary, null, 2)}\n`);
      } catch (error) {
        throw new ShadowtapError('ST_RUNTIME', `cannot write --summary-json ${flags.summaryJson}: ${(error as Error).message}`, { cause: error });
      }
    }
    return 0;
  } finally {
    progress?.finish();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await metricsServer?.close();
    await results.close();
    await source.close();
  }
}

/** Opens two logs at once; when either fails, the other is closed again and the first failure thrown. */
async function openBoth<A, B>(a: Promise<RecordLog<A>>, b: Promise<RecordLog<B>>): Promise<[RecordLog<A>, RecordLog<B>]> {
  const [first, second] = await Promise.allSettled([a, b]);
  if (first.status === 'fulfilled' && second.status === 'fulfilled') return [first.value, second.value];
  await Promise.all([first, second].map((opened) => (opened.status === 'fulfilled' ? opened.value.close().catch(() => undefined) : undefined)));
  throw first.status === 'rejected' ? first.reason : (second as PromiseRejectedResult).reason;
}

/** Whether the log holds a capture in [fromMs, toMs), whatever any group committed. */
async function holdsCaptures(source: RecordLog<Capture>, fromMs: number | undefined, toMs: number | undefined): Promise<boolean> {
  for await (const entry of source.read({ fromMs, toMs })) return entry !== undefined;
  return false;
}

interface ReplayFlags extends SendFlags {
  follow?: boolean;
  solo?: boolean;
  from?: number;
  to?: number;
  group?: string;
  pace: 'asap' | 'recorded';
  speed: number;
  rate?: number;
  maxLateness: number;
  strictOpenModel?: boolean;
  baseline?: URL;
}

export function registerReplay(program: Command): void {
  const command = program
    .command('replay')
    .description('send captured requests to a shadow and record each answer as a Result')
    .option('--follow', 'tail the log: mirror new captures as they arrive, until SIGTERM/SIGINT; a new group starts at the end of the log unless --from is given')
    .option('--solo', 'with --follow on Kafka: read every partition directly instead of joining the group, so the first request leaves within a second of start (not after the broker\'s initial rebalance delay, 3 s by default); for the group\'s only worker: refused while it has members')
    .option('--from <time>', 'start of the window (ISO time, ms since epoch, or -15m)', (v) => parseTime(v, '--from'))
    .option('--to <time>', 'end of the window, exclusive; without --from/--to/--follow the whole log is replayed once', (v) => parseTime(v, '--to'))
    .option('--group <name>', `consumer group: a restarted run resumes after its last commit (default: ${replayDefaults.group} with --follow, else one per window and target)`)
    .addOption(new Option('--pace <mode>', 'asap: as fast as --concurrency allows; recorded: keep the recorded gaps').choices(['asap', 'recorded']).default(replayDefaults.pace))
    .addOption(new Option('--speed <n>', 'with --pace recorded: 2 replays twice as fast').default(replayDefaults.speed).argParser((v) => parsePositiveNumber(v, '--speed')))
    .addOption(
      new Option('--rate <r>', 'open model: r requests/s at exact intervals; a send reached late is sent late, its lateness recorded').argParser((v) => parsePositiveNumber(v, '--rate')),
    )
    .addOption(
      new Option('--max-lateness <ms>', 'with --rate: a send still waiting for a free --concurrency slot this long after its time is dropped (the shadow cannot keep up)')
        .default(replayDefaults.maxLatenessMs)
        .argParser((v) => parseNonNegative(v, '--max-lateness')),
    )
    .option('--strict-open-model', 'with --rate: drop any send later than --max-lateness, also when the worker itself was late (a busy core, a GC pause)')
    .addOption(new Option('--baseline <url>', 'A/A calibration: also send each safe request to this second stable instance (diff --baseline-target)').argParser((v) => parseUrl(v, '--baseline')));
  addSendOptions(command)
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  shadowtap replay --target http://shadow:8080 --follow --metrics-listen :9464',
        '  shadowtap replay --target http://shadow:8080 --from 2026-11-26T10:00:00Z --to 2026-11-26T11:00:00Z --pace recorded --speed 4',
        '  shadowtap replay --target http://shadow:8080 --rate 500 --set-header authorization:env:SHADOW_TOKEN',
        '  shadowtap replay --target http://shadow:8080 --baseline http://stable-2:8080   (then: shadowtap diff --baseline-target http://stable-2:8080)',
        '  shadowtap replay --target http://shadow:8080 --reference http://stable:8080 --follow   (request-only captures: the diff compares the shadow with stable)',
        '',
        'Exit codes: 0 done (also after SIGTERM, once requests in flight are recorded), 2 bad usage, 3 runtime failure.',
      ].join('\n'),
    )
    .action(
      action(async (flags: ReplayFlags) => {
        if (flags.solo && !flags.follow) throw usageError('--solo applies to --follow: add --follow, or drop --solo (a window is always read without joining its group)');
        if (flags.follow && flags.to !== undefined) throw usageError('--follow tails the log without an end: drop --to, or drop --follow to replay a window');
        if (flags.rate !== undefined && flags.pace === 'recorded') throw usageError('--rate and --pace recorded exclude each other: pick one way to pace');
        if (flags.strictOpenModel && flags.rate === undefined) throw usageError('--strict-open-model applies to --rate only: add --rate R or drop it');
        return runReplayCommand(
          flags,
          'replay',
          async ({ source, results, signal, extra }) => {
            const replay = createReplay({
              ...sendOptionsFrom(flags),
              ...extra,
              source,
              results,
              signal,
              follow: flags.follow,
              solo: flags.solo,
              fromMs: flags.from,
              toMs: flags.to,
              group: flags.group,
              pace: flags.pace,
              speed: flags.speed,
              rate: flags.rate,
              maxLatenessMs: flags.maxLateness,
              strictOpenModel: flags.strictOpenModel,
              baseline: flags.baseline && String(flags.baseline),
            });
            const summary = await replay.run();
            if (!flags.follow && summary.read === 0 && !signal.aborted && (await holdsCaptures(source, flags.from, flags.to))) {
              process.stderr.write(
                `shadowtap: nothing replayed: consumer group "${replay.group}" has already committed every capture of this window (a finished run of the same command); pass --group with a new name to replay it again\n`,
              );
            }
            return summary;
          },
          (summary) => formatReplaySummary(summary),
        );
      }),
    );
}
