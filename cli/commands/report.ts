import { renderReport, reportFormats, type WholeReportFormat } from '../../diff/render/formats.js';
import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { usageError } from '../../shared/errors.js';
import { diffDefaults } from '../../diff/diff-defaults.js';
import { reportExitCode } from '../../diff/report-exit.js';
import { buildGroupReport } from '../../diff/scale-out/group-report.js';
import { action, addLogOptions, checkWritable, logOptionsFrom, parseNonNegative, parsePercent, parseRate, parseTime } from '../common.js';

/** Every whole-report format (jsonl streams pairs as a diff judges them, so a merged report has none). */
const formats = reportFormats.filter((f): f is WholeReportFormat => f !== 'jsonl');

interface ReportFlags {
  group: string;
  brokers?: string;
  store?: string;
  topicPrefix?: string;
  partitions?: number;
  format: WholeReportFormat;
  out?: string;
  from?: number;
  to?: number;
  failOn?: number;
  failOnLatencyRegression?: number;
  minLatencyRegression: number;
}


export function registerReport(program: Command): void {
  const command = program
    .command('report')
    .description("build the report of a group of diff workers (diff --follow --group G) from their committed partial summaries")
    .requiredOption('--group <name>', 'the group the diff workers ran in')
    .addOption(new Option('--format <format>', 'report format').choices(formats).default('text'))
    .option('--out <file>', 'write the report to a file instead of stdout')
    .option('--from <time>', 'start of the window of capture time (ISO time, ms since epoch, or -1h), on a bound of the workers\' --slice', (v) => parseTime(v, '--from'))
    .option('--to <time>', 'end of the window of capture time, exclusive, on a bound of the workers\' --slice', (v) => parseTime(v, '--to'))
    .option('--fail-on <rate>', 'exit 1 when more than this share of pairs mismatch or error (0 = any; 0.01 or 1%)', (v) => parseRate(v, '--fail-on'))
    .option('--fail-on-latency-regression <pct>', 'exit 1 when a route p99 grows by more than this percent', (v) => parsePercent(v, '--fail-on-latency-regression'))
    .option('--min-latency-regression <ms>', 'p99 growth below this many ms is never a regression', (v) => parseNonNegative(v, '--min-latency-regression'), diffDefaults.minLatencyRegressionMs)
    .addHelpText(
      'after',
      [
        '',
        'The report covers every pair the group committed so far, merged from the last snapshot of each',
        'partition: what one diff process over the same records writes. --from/--to keep the pairs whose',
        'capture time is in the window (a result without capture: its send time), as diff --from --to does;',
        'the workers keep their summaries per slice of capture time (diff --slice, default 1h), so the',
        'bounds must fall on slice bounds.',
        '',
        'Examples:',
        '  shadowtap report --group diff-workers --brokers kafka:9092 --format html --out report.html',
        '  shadowtap report --group diff-workers --format junit --out diff.xml --fail-on 1%',
        '  shadowtap report --group local --store .shadowtap/store --from 2026-11-30T10:00Z --to 2026-11-30T12:00Z --format md',
        '',
        'Exit codes: 0 thresholds hold, 1 a threshold is breached, 2 bad flags or no such group, 3 the log cannot be read.',
      ].join('\n'),
    );
  addLogOptions(command).action(action((flags: ReportFlags) => reportCommand(flags)));
}

async function reportCommand(flags: ReportFlags): Promise<number> {
  const log = logOptionsFrom(flags);
  if (flags.from !== undefined && flags.to !== undefined && flags.to <= flags.from) throw usageError('--to must be later than --from');
  if (flags.out !== undefined) await checkWritable(flags.out, '--out');
  const { report } = await buildGroupReport({
    source: log.brokers?.length ? { brokers: log.brokers, topicPrefix: log.topicPrefix! } : { store: log.store! },
    group: flags.group,
    fromMs: flags.from,
    toMs: flags.to,
    thresholds: { failOnMismatchRate: flags.failOn ?? 0, failOnLatencyRegression: flags.failOnLatencyRegression, minLatencyRegressionMs: flags.minLatencyRegression },
  });
  const text = renderReport(report, flags.format, { color: flags.out === undefined && process.stdout.isTTY === true && !process.env.NO_COLOR });
  if (flags.out) await writeFile(flags.out, text);
  else process.stdout.write(text);
  return reportExitCode(report);
}
