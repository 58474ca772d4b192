import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import type { DiffReport } from '../../diff/report.js';
import { ExitCode, ShadowtapError, usageError } from '../../shared/errors.js';
import { action, parseDuration, parsePercent, parseRate } from '../common.js';
import { defaultGateCriteria, evaluateGate, formatDuration, type GateCriteria } from '../../diff/graduation-gate.js';

interface GateFlags {
  report?: string;
  minDuration?: number;
  maxMismatchRate: number;
  maxErrorRate: number;
  maxLatencyRegression: number;
  format: 'text' | 'json';
}

/** `shadowtap gate`: may this shadow graduate to a canary? Exit 0 pass, 1 fail, 2 bad usage. */
export function registerGate(program: Command): void {
  program
    .command('gate')
    .description('decide from a diff JSON report whether the shadow may graduate to a canary (exit 0 pass, 1 fail)')
    .addOption(new Option('--report <file>', 'diff report written by `shadowtap diff --format json --out FILE`'))
    .addOption(
      // No commander default: it would be shown and configured as milliseconds rather than as a duration.
      new Option('--min-duration <duration>', `traffic the report must span, e.g. 30m, 24h, 2d (default: ${formatDuration(defaultGateCriteria.minDurationMs)})`).argParser(
        (v) => parseDuration(v, '--min-duration'),
      ),
    )
    .addOption(
      new Option('--max-mismatch-rate <rate>', 'highest share of compared pairs that differ (0.01 = 1%)')
        .default(defaultGateCriteria.maxMismatchRate)
        .argParser((v) => parseRate(v, '--max-mismatch-rate')),
    )
    .addOption(
      new Option('--max-error-rate <rate>', 'highest share of compared pairs the shadow failed (0.01 = 1%)')
        .default(defaultGateCriteria.maxErrorRate)
        .argParser((v) => parseRate(v, '--max-error-rate')),
    )
    .addOption(
      new Option('--max-latency-regression <percent>', "highest significant growth of a route's p99 latency, in percent")
        .default(defaultGateCriteria.maxLatencyRegressionPct)
        .argParser((v) => parsePercent(v, '--max-latency-regression')),
    )
    .addOption(new Option('--format <format>', 'output').choices(['text', 'json']).default('text'))
    .addHelpText(
      'after',
      '\nExample:\n  shadowtap diff --from -24h --format json --out report.json\n  shadowtap gate --report report.json --min-duration 24h --max-mismatch-rate 0.005',
    )
    .action(
      action(async (flags: GateFlags) => {
        if (!flags.report) throw usageError('gate needs --report FILE; write one with `shadowtap diff --format json --out report.json`');
        const report = await readReport(flags.report);
        const criteria: GateCriteria = {
          minDurationMs: flags.minDuration ?? defaultGateCriteria.minDurationMs,
          maxMismatchRate: flags.maxMismatchRate,
          maxErrorRate: flags.maxErrorRate,
          maxLatencyRegressionPct: flags.maxLatencyRegression,
        };
        const decision = evaluateGate(report, criteria);
        if (flags.format === 'json') {
          process.stdout.write(`${JSON.stringify({ ...decision, report: flags.report, criteria }, null, 2)}\n`);
        } else {
          const lines = [`gate: ${decision.passed ? 'PASS' : 'FAIL'} (${flags.report}, generated ${report.generatedAt})`];
          for (const check of decision.checks) lines.push(`  ${check.passed ? 'ok  ' : 'FAIL'} ${check.name}: ${check.message}`);
          process.stdout.write(`${lines.join('\n')}\n`);
        }
        return decision.passed ? ExitCode.ok : ExitCode.thresholdBreached;
      }),
    );
}

async function readReport(path: string): Promise<DiffReport> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ShadowtapError('ST_BAD_INPUT_FILE', `--report ${path} cannot be read: ${(error as Error).message}`);
  }
  let report: Partial<DiffReport>;
  try {
    report = JSON.parse(text) as Partial<DiffReport>;
  } catch {
    throw new ShadowtapError('ST_BAD_INPUT_FILE', `--report ${path} is not JSON; write it with \`shadowtap diff --format json --out ${path}\``);
  }
  if (report?.schemaVersion !== 1 || !report.totals || !report.window || !Array.isArray(report.routes)) {
    throw new ShadowtapError('ST_BAD_INPUT_FILE', `--report ${path} is not a shadowtap diff report (schemaVersion 1); write it with \`shadowtap diff --format json\``);
  }
  return report as DiffReport;
}
