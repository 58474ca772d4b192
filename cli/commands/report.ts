import { renderReport, reportFormats, type WholeReportFormat } from '../../diff/render/formats.js';
import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { usageError } from '../../shared/errors.js';
import { diffDefaults } from '../../diff/diff-defaults.js';
import { reportExitCode } from '../../diff/report-exit.js';
import { buildGroupReport } from '../../diff/scale-out/group-report.js';
import { action, addLogOptions, checkWritable, logOptionsFrom, parseNonNegative, parsePercent, parseRate } from '../common.js';

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
  failOn?: number;
  failOnLatencyRegression?: number;
  minLatencyRegression: number;
}


export function registerReport(program: Command): void {
  const command = program
    .command('report')
    .description("build the report of a group of diff workers (diff --follow --group G) from their committed partial summaries")
    .requiredOption('--group <name>', 'the consumer group the diff workers ran in')
    .addOption(new Option('--format <format>', 'report format').choices(formats).default('text'))
    .option('--out <file>', 'write the report to a file instead of stdout')
    .option('--fail-on <rate>', 'exit 1 when more than this share of pairs mismatch or error (0 = any; 0.01 or 1%)', (v) => parseRate(v, '--fail-on'))
    .option('--fail-on-latency-regression <pct>', 'exit 1 when a route p99 grows by more than this percent', (v) => parsePercent(v, '--fail-on-latency-regression'))
    .option('--min-latency-regression <ms>', 'p99 growth below this many ms is never a regression', (v) => parseNonNegative(v, '--min-latency-regression'), diffDefaults.minLatencyRegressionMs)
    .addHelpText(
      'after',
      [
        '',
        'The report covers every pair the group committed so far, merged from the last snapshot of each',
        'partition: what one diff process over the same records writes.',
        '',
        'Examples:',
        '  shadowtap report --group diff-workers --brokers kafka:9092 --format html --out report.html',
        '  shadowtap report --group diff-workers --format junit --out diff.xml --fail-on 1%',
        '',
        'Exit codes: 0 thresholds hold, 1 a threshold is breached, 2 bad flags or no such group, 3 Kafka cannot be read.',
      ].join('\n'),
    );
  addLogOptions(command).action(action((flags: ReportFlags) => reportCommand(flags)));
}

async function reportCommand(flags: ReportFlags): Promise<number> {
  const log = logOptionsFrom(flags);
  if (!log.brokers?.length) throw usageError('report --group reads the state diff workers keep in Kafka: give --brokers (or KAFKA_BROKERS)');
  if (flags.out !== undefined) await checkWritable(flags.out, '--out');
  const { report } = await buildGroupReport({
    brokers: log.brokers,
    topicPrefix: log.topicPrefix!,
    group: flags.group,
    thresholds: { failOnMismatchRate: flags.failOn ?? 0, failOnLatencyRegression: flags.failOnLatencyRegression, minLatencyRegressionMs: flags.minLatencyRegression },
  });
  const text = renderReport(report, flags.format, { color: flags.out === undefined && process.stdout.isTTY === true && !process.env.NO_COLOR });
  if (flags.out) await writeFile(flags.out, text);
  else process.stdout.write(text);
  return reportExitCode(report);
}
