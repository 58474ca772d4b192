import type { LogEntry, Position, ReadOptions, RecordKind, RecordLog } from '../../shared/log/record-log.js';

/** A RecordLog held in an array, for pairing tests: same time window semantics as the real logs, no follow. */
export function memoryLog<T>(kind: RecordKind<T>, records: T[] = []): RecordLog<T> & { records: T[] } {
  const log = {
    name: `memory.${kind.name}`,
    records,
    async append(more: T[]) {
      records.push(...more);
    },
    async *read(options: ReadOptions = {}): AsyncGenerator<LogEntry<T>> {
      for (let offset = 0; offset < records.length; offset++) {
        const value = records[offset]!;
        const timestampMs = kind.timestampMs(value);
        if (options.fromMs !== undefined && timestampMs < options.fromMs) continue;
        if (options.toMs !== undefined && timestampMs >= options.toMs) continue;
        yield { value, timestampMs, position: { partition: 0, offset } };
      }
    },
    async commit(_group: string, _positions: Position[]) {},
    async close() {},
  };
  return log;
}
