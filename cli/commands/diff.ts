import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { usageError } from '../../shared/errors.js';
import { serveMetrics } from '../../shared/metrics-server.js';
import { openLog } from '../../shared/log/open-log.js';
import { captureKind, resultKind } from '../../shared/log/record-log.js';
import type { Capture, Result } from '../../shared/records/types.js';
import { DiffMetrics } from '../../diff/diff-metrics.js';
import type { PairRecord } from '../../diff/pair-record.js';
import { ProgressLine } from '../../diff/progress-line.js';
import { diffDefaults } from '../../diff/diff-defaults.js';
import { reportFormats, renderReport, type ReportFormat } from '../../diff/render/formats.js';
import { jsonLinesWriter, type JsonLinesWriter } from '../../diff/render/json.js';
import type { DiffReport } from '../../diff/report.js';
import { reportExitCode } from '../../diff/report-exit.js';
import { acceptReport } from '../../diff/reviewed-differences.js';
import { RollingSummary } from '../../diff/rolling-summary.js';
import { createDiff } from '../../diff/run-diff.js';
import { postWebhook } from '../../diff/webhook.js';
import { diffGroupCommand } from './diff-group.js';
import { action, addLogOptions, checkWritable, logOptionsFrom, parseDuration, parseListen, parseNonNegative, parsePercent, parsePositiveInt, parsePositiveNumber, parseRate, parseTime, parseUrl } from '../common.js';


export interface DiffFlags {
  brokers?: string;
  store?: string;
  topicPrefix?: string;
  partitions?: number;
  format: ReportFormat;
  out?: string;
  from?: number;
  to?: number;
  follow?: boolean;
  ignore: string[];
  arrayKey: string[];
  route: string[];
  failOnMismatchRate?: number;
  failOn?: number;
  failOnLatencyRegression?: number;
  failOnNotComparedRate?: number;
  minLatencyRegression: number;
  numberTolerance?: number;
  accepted?: string;
  accept?: boolean;
  webhook?: URL;
  samplesPerRoute: number;
  joinWindow: number;
  bucketSeconds: number;
  baselineTarget?: URL;
  noiseRelative: number;
  noiseAbsolute: number;
  metricsListen?: { host: string; port: number };
  summaryInterval: number;
  group?: string;
  commitInterval?: number;
  slice?: number;
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** A share (0.0003) as the percentage a flag takes (0.03), without float dust. */
const asPercent = (share: number) => Number((share * 100).toPrecision(12));

export function registerDiff(program: Command): void {
  const command = program
    .command('diff')
    .description('pair results with the recorded stable responses, report differences, exit 1 when a threshold is breached')
    .addOption(new Option('--format <format>', 'report format').choices(reportFormats).default('text'))
    .option('--out <file>', 'write the report to a file instead of stdout')
    .option('--from <time>', 'start of the capture window (ISO time, ms since epoch, or -15m)', (v) => parseTime(v, '--from'))
    .option('--to <time>', 'end of the capture window, exclusive', (v) => parseTime(v, '--to'))
    .option('--follow', 'keep pairing new records until interrupted (Ctrl-C), then report')
    .option('--ignore <rule>', "ignore a difference: '$.meta.generatedAt', '$..traceId', 'header:x-trace', 'route:/users/{id} $.lastSeen', '!header:etag' (repeatable)", collect, [])
    .option('--array-key <rule>', "match array elements by a key field instead of position: '$.items[*]=sku' (repeatable)", collect, [])
    .option('--route <pattern>', 'route template overriding detection, e.g. /users/:id (repeatable)', collect, [])
    .option('--fail-on-mismatch-rate <rate>', 'fail when more than this share of pairs mismatch or error (0 = any; 0.01 or 1%)', (v) => parseRate(v, '--fail-on-mismatch-rate'))
    .option('--fail-on <rate>', 'alias of --fail-on-mismatch-rate', (v) => parseRate(v, '--fail-on'))
    .option('--fail-on-latency-regression <pct>', 'fail when a route p99 grows by more than this percent and its 95% interval excludes zero', (v) =>
      parsePercent(v, '--fail-on-latency-regression'),
    )
    .option('--fail-on-not-compared-rate <rate>', 'tolerated share of answered pairs whose bodies could not be compared, e.g. truncated without a hash (default 0: any fails)', (v) =>
      parseRate(v, '--fail-on-not-compared-rate'),
    )
    .option('--min-latency-regression <ms>', 'p99 growth below this many ms is never a regression', (v) => parseNonNegative(v, '--min-latency-regression'), diffDefaults.minLatencyRegressionMs)
    .option('--number-tolerance <n>', 'numbers closer than this are equal (absolute)', (v) => parsePositiveNumber(v, '--number-tolerance'))
    .option('--accepted <file>', 'reviewed-differences YAML file: accepted differences are shown but do not fail')
    .option('--accept', `add this run's differing fields to the --accepted file (default ${diffDefaults.reviewedFile}) as accepted`)
    .option('--webhook <url>', 'POST a Slack-compatible {"text": …} summary here when a threshold is breached', (v) => parseUrl(v, '--webhook'))
    .addOption(new Option('--samples-per-route <n>', 'sample pairs kept per route and kind for the reports').default(diffDefaults.samplesPerRoute).argParser((v) => parsePositiveInt(v, '--samples-per-route')))
    .addOption(
      new Option('--join-window <n>', 'most captures (and early results) held in memory while pairing')
        .default(diffDefaults.joinWindow)
        .argParser((v) => parsePositiveInt(v, '--join-window')),
    )
    .addOption(new Option('--bucket-seconds <n>', 'size of the time buckets (mismatch rate and p99 over time)').default(diffDefaults.bucketMs / 1000).argParser((v) => parsePositiveInt(v, '--bucket-seconds')))
    .option(
      '--baseline-target <url>',
      'results sent to this target (a second stable instance, replayed with --target URL) are A/A results: fields that differ as often between the two stables are noise',
      (v) => parseUrl(v, '--baseline-target'),
    )
    .addOption(
      new Option('--noise-relative <pct>', 'with a baseline: a field is real only when its difference rate beats the A/A rate by this percent of it')
        .default(asPercent(diffDefaults.noiseThresholds.relative))
        .argParser((v) => parsePercent(v, '--noise-relative')),
    )
    .addOption(
      new Option('--noise-absolute <pct>', 'with a baseline: … and by this percent of all pairs')
        .default(asPercent(diffDefaults.noiseThresholds.absolute))
        .argParser((v) => parsePercent(v, '--noise-absolute', 100)),
    )
    .option('--metrics-listen <addr>', 'serve Prometheus metrics (shadowtap_diff_*) on GET /metrics at [host]:port, e.g. :9465', (v) => parseListen(v, '--metrics-listen'))
    .addOption(
      new Option('--summary-interval <s>', 'with --follow: print a summary of the last 5 minutes to stderr this often')
        .default(diffDefaults.summaryIntervalMs / 1000)
        .argParser((v) => parsePositiveInt(v, '--summary-interval')),
    )
    .option('--group <name>', 'with --follow: be one diff worker of this group, on Kafka or a --store (co-partitioned; state and verdicts kept in the log; report with shadowtap report --group)')
    .option('--commit-interval <ms>', 'with --group: how often each partition commits its state, verdicts and offsets together (default 1000)', (v) => parsePositiveInt(v, '--commit-interval'))
    .option('--slice <duration>', 'with --group: keep partial summaries per slice of capture time this long, the bounds shadowtap report --from/--to can cut on (default 1h)', (v) => parseDuration(v, '--slice'))
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        "  shadowtap diff --from -1h --ignore '$.meta.generatedAt' --array-key '$.items[*]=sku' --fail-on 1%",
        '  shadowtap diff --format html --out report.html --accepted reviewed-differences.yaml',
        '  shadowtap diff --format junit --out diff.xml --fail-on-latency-regression 20',
        '  shadowtap diff --baseline-target http://stable-b:8080 --noise-relative 20 --noise-absolute 0.03',
        '  shadowtap diff --follow --metrics-listen :9465',
        '  shadowtap diff --follow --group diff-workers --brokers kafka:9092 --metrics-listen :9465',
        '  shadowtap diff --follow --group local --store .shadowtap/store --slice 10m   (several on one machine)',
        '',
        'Exit codes: 0 thresholds hold, 1 a threshold is breached, 2 bad flags or config, 3 the log cannot be read.',
      ].join('\n'),
    );
  addLogOptions(command).action(action((flags: DiffFlags) => diffCommand(flags)));
}

async function diffCommand(flags: DiffFlags): Promise<number> {
  if (flags.from !== undefined && flags.to !== undefined && flags.to <= flags.from) throw usageError('--to must be later than --from');
  if (flags.out !== undefined) await checkWritable(flags.out, '--out');
  if (flags.accept) await checkWritable(flags.accepted ?? diffDefaults.reviewedFile, '--accepted');
  const reviewedPath = flags.accepted ?? (flags.accept ? diffDefaults.reviewedFile : undefined);
  let reviewedText: string | undefined;
  if (flags.accepted !== undefined) {
    if (!existsSync(flags.accepted) && !flags.accept) throw usageError(`--accepted ${flags.accepted}: no such file`);
    reviewedText = existsSync(flags.accepted) ? await readFile(flags.accepted, 'utf8') : undefined;
  }
  if (flags.slice !== undefined && flags.group === undefined) throw usageError('--slice goes with --group: one diff reports its own --from/--to window');
  if (flags.group !== undefined) return diffGroupCommand({ ...flags, group: flags.group }, reviewedText, { relative: flags.noiseRelative / 100, absolute: flags.noiseAbsolute / 100 });

  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const logOptions = logOptionsFrom(flags);
  const watchers = await startWatchers(flags);
  let lines: JsonLinesWriter | undefined;
  let report: DiffReport;
  try {
    // A window of a store nothing was captured to is a mistaken --store; a follow may start first.
    const captures = await openLog<Capture>(captureKind, { ...logOptions, existing: !flags.follow });
    try {
      const results = await openLog<Result>(resultKind, logOptions);
      try {
        if (flags.format === 'jsonl') lines = jsonLinesWriter(flags.out);
        report = await createDiff({
          captures,
          results,
          fromMs: flags.from,
          toMs: flags.to,
          follow: flags.follow,
          signal: controller.signal,
          ignore: flags.ignore,
          arrayKeys: flags.arrayKey,
          routes: flags.route,
          numberTolerance: flags.numberTolerance,
          accepted: reviewedText,
          samplesPerRoute: flags.samplesPerRoute,
          joinWindow: flags.joinWindow,
          bucketMs: flags.bucketSeconds * 1000,
          thresholds: {
            failOnMismatchRate: flags.failOnMismatchRate ?? flags.failOn ?? diffDefaults.failOnMismatchRate,
            failOnLatencyRegression: flags.failOnLatencyRegression,
            failOnNotComparedRate: flags.failOnNotComparedRate,
            minLatencyRegressionMs: flags.minLatencyRegression,
          },
          onVerdict: (record) => {
            lines?.write(record);
            watchers.observe(record);
          },
          onWarning: (message) => process.stderr.write(`shadowtap: ${message}\n`),
          baselineTarget: flags.baselineTarget?.href,
          noiseThresholds: { relative: flags.noiseRelative / 100, absolute: flags.noiseAbsolute / 100 },
        }).run();
      } finally {
        await results.close();
      }
    } finally {
      await captures.close();
    }
  } finally {
    await watchers.close();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }

  if (lines) await lines.close();
  else if (flags.format !== 'jsonl') {
    const color = flags.out === undefined && process.stdout.isTTY === true && !process.env.NO_COLOR;
    await writeReport(renderReport(report, flags.format, { color }), flags.out);
  }

  if (flags.accept && reviewedPath) {
    const { text, accepted } = acceptReport(reviewedText, report);
    await writeFile(reviewedPath, text);
    process.stderr.write(`shadowtap: ${accepted} differing fields written to ${reviewedPath} as accepted; review the reasons\n`);
  }
  const code = reportExitCode(report);
  if (code !== 0 && flags.webhook) {
    const problem = await postWebhook(flags.webhook.href, report);
    if (problem) process.stderr.write(`shadowtap: ${problem}\n`);
  }
  return code;
}

/** What watches pairs go by: Prometheus metrics, the follow summary line, the TTY progress line. */
async function startWatchers(flags: DiffFlags): Promise<{ observe(record: PairRecord): void; close(): Promise<void> }> {
  const rolling = new RollingSummary();
  const metrics = flags.metricsListen ? new DiffMetrics(rolling) : undefined;
  const server = metrics && flags.metricsListen ? await serveMetrics(metrics.registry, flags.metricsListen) : undefined;
  if (server) process.stderr.write(`shadowtap: diff metrics on ${server.url}\n`);
  const progress = new ProgressLine(process.stderr);
  if (!flags.follow) progress.start();
  const timer = flags.follow ? setInterval(() => process.stderr.write(`${rolling.line()}\n`), flags.summaryInterval * 1000).unref() : undefined;
  return {
    observe(record) {
      if (metrics) metrics.observe(record);
      else if (flags.follow) rolling.add(record.route, record.verdict);
      progress.count();
    },
    async close() {
      progress.stop();
      clearInterval(timer);
      if (flags.follow) process.stderr.write(`${rolling.line()}\n`);
      await server?.close();
    },
  };
}

async function writeReport(text: string, out: string | undefined): Promise<void> {
  if (out) await writeFile(out, text);
  else process.stdout.write(text);
}
