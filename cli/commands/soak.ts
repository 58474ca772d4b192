import { Command, Option } from 'commander';
import { formatDuration } from '../../replay/progress-reporter.js';
import { soakDefaults } from '../../replay/replay-defaults.js';
import { runSoak, type SoakPlan } from '../../replay/soak.js';
import { formatSoakSummary } from '../../replay/summary-text.js';
import { action, parseDuration, parsePositiveInt, parsePositiveNumber, parseTime } from '../common.js';
import { addSendOptions, runReplayCommand, sendOptionsFrom, type SendFlags } from './replay.js';

interface SoakFlags extends SendFlags {
  from: number;
  to: number;
  compress: number;
  loop: number;
  amplify: number;
  buckets: number;
  maxDuration?: number;
}

export function registerSoak(program: Command): void {
  const command = program
    .command('soak')
    .description('reproduce a recorded traffic pattern on the shadow: shape kept, time compressed, looped, multiplied')
    .addOption(new Option('--from <time>', 'start of the recorded window (ISO time, ms since epoch, or -24h)').argParser((v) => parseTime(v, '--from')).makeOptionMandatory())
    .addOption(new Option('--to <time>', 'end of the recorded window, exclusive').argParser((v) => parseTime(v, '--to')).makeOptionMandatory())
    .addOption(new Option('--compress <n>', 'play the window n times faster (24: a day in an hour)').default(soakDefaults.compress).argParser((v) => parsePositiveNumber(v, '--compress')))
    .addOption(new Option('--loop <n>', 'passes over the window, back to back').default(soakDefaults.loop).argParser((v) => parsePositiveInt(v, '--loop')))
    .addOption(new Option('--amplify <n>', 'send each request n times (copies get ids <id>~<n>)').default(soakDefaults.amplify).argParser((v) => parsePositiveInt(v, '--amplify')))
    .addOption(new Option('--buckets <n>', 'time buckets in the summary table').default(soakDefaults.buckets).argParser((v) => parsePositiveInt(v, '--buckets')))
    .addOption(
      new Option('--max-duration <duration>', `refuse a plan that would run longer, e.g. 30m, 24h, 2d (default: ${formatDuration(soakDefaults.maxDurationMs)})`).argParser((v) =>
        parseDuration(v, '--max-duration'),
      ),
    );
  addSendOptions(command)
    .addHelpText(
      'after',
      [
        '',
        'Example:',
        '  shadowtap soak --target http://shadow:8080 --from 2026-11-25T00:00:00Z --to 2026-11-26T00:00:00Z --compress 24 --loop 3 --amplify 2',
        '',
        'Exit codes: 0 done (also after SIGTERM), 2 bad usage, 3 runtime failure.',
      ].join('\n'),
    )
    .action(
      action(async (flags: SoakFlags) =>
        runReplayCommand(
          flags,
          'soak',
          ({ source, results, signal, extra }) =>
            runSoak({
              ...sendOptionsFrom(flags),
              ...extra,
              source,
              results,
              signal,
              fromMs: flags.from,
              toMs: flags.to,
              compress: flags.compress,
              loop: flags.loop,
              amplify: flags.amplify,
              buckets: flags.buckets,
              maxDurationMs: flags.maxDuration,
              onPlan: (plan) => process.stderr.write(`${formatSoakPlan(plan)}\n`),
            }),
          formatSoakSummary,
        ),
      ),
    );
}

/** The plan in one line, before the first send: what will be reproduced, how fast, how much. */
export function formatSoakPlan(plan: SoakPlan): string {
  return (
    `soak plan: ${plan.captures} captures from ${new Date(plan.firstMs).toISOString()} to ${new Date(plan.lastMs).toISOString()}; ` +
    `pattern ${formatDuration(plan.patternMs)}, compressed to ${formatDuration(plan.passMs)}, ${plan.loop} loop${plan.loop === 1 ? '' : 's'}: ` +
    `${formatDuration(plan.runMs)} in all, ${plan.requests} requests (amplify ${plan.amplify}), peak ${plan.peakRate} req/s`
  );
}
