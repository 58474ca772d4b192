import { Command, Option } from 'commander';
import { openLog } from '../../shared/log/open-log.js';
import { captureKind, resultKind } from '../../shared/log/record-log.js';
import { captureToJson, resultToJson } from '../../shared/records/to-json.js';
import type { Capture, Result } from '../../shared/records/types.js';
import { action, addLogOptions, logOptionsFrom, parsePositiveInt, parseTime } from '../common.js';

interface InspectFlags {
  brokers?: string;
  store?: string;
  topicPrefix?: string;
  partitions?: number;
  from?: number;
  to?: number;
  limit?: number;
  follow?: boolean;
}

export function registerInspect(program: Command): void {
  const command = program
    .command('inspect')
    .description('print records as JSON lines, like kcat for shadowtap records')
    .addOption(new Option('--kind <kind>', 'which log to print').choices(['captures', 'results']).default('captures'))
    .option('--from <time>', 'start of the window (ISO time, ms since epoch, or -15m)', (v) => parseTime(v, '--from'))
    .option('--to <time>', 'end of the window, exclusive', (v) => parseTime(v, '--to'))
    .option('--limit <n>', 'stop after n records', (v) => parsePositiveInt(v, '--limit'))
    .option('--follow', 'keep printing new records until interrupted')
    .addHelpText('after', '\nExample:\n  shadowtap inspect --kind results --store .shadowtap/store --limit 5 | jq .outcome');
  addLogOptions(command).action(
    action(async (flags: InspectFlags & { kind: 'captures' | 'results' }) => {
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort());
      // A damaged block is named in one line (onWarning); its records then need no line each.
      let named = false;
      const readOptions = {
        fromMs: flags.from,
        toMs: flags.to,
        follow: flags.follow,
        signal: controller.signal,
        onDeadLetter: (position: { partition: number; offset: number }, error: Error) => named || reportDeadLetter(position, error),
        onWarning: (message: string) => {
          named = true;
          process.stderr.write(`shadowtap: ${message}\n`);
        },
      };
      let printed = 0;
      const print = (json: object): boolean => {
        named = false;
        process.stdout.write(`${JSON.stringify(json)}\n`);
        return flags.limit !== undefined && ++printed >= flags.limit;
      };
      if (flags.kind === 'captures') {
        const log = await openLog<Capture>(captureKind, { ...logOptionsFrom(flags), existing: !flags.follow });
        try {
          for await (const entry of log.read(readOptions)) if (print({ position: entry.position, ...captureToJson(entry.value) })) break;
        } finally {
          await log.close();
        }
      } else {
        const log = await openLog<Result>(resultKind, { ...logOptionsFrom(flags), existing: !flags.follow });
        try {
          for await (const entry of log.read(readOptions)) if (print({ position: entry.position, ...resultToJson(entry.value) })) break;
        } finally {
          await log.close();
        }
      }
    }),
  );
}

function reportDeadLetter(position: { partition: number; offset: number }, error: Error): void {
  process.stderr.write(`shadowtap: undecodable record at partition ${position.partition} offset ${position.offset} moved to the dead-letter log: ${error.message}\n`);
}
