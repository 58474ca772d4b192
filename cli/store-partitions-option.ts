import { Option } from 'commander';
import { parsePositiveInt } from './common.js';

/**
 * `--store-partitions N` of the commands that create a file-log store (capture, import, replay):
 * how many partitions a new store gets, so several local diff workers can split it
 * (`diff --follow --group`). An existing store keeps its count: another one is refused.
 */
export const storePartitionsOption = () =>
  new Option('--store-partitions <n>', 'partitions of a new embedded store (default 1; more let local diff workers of a group split it); an existing store with another count is refused').argParser((v) =>
    parsePositiveInt(v, '--store-partitions'),
  );
