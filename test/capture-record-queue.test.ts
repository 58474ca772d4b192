import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resolveQueue, type QueueOptions } from '../capture/capture-options.js';
import { RecordQueue, type QueueEvents } from '../capture/record-queue.js';
import { waitFor } from './helpers/capture-helpers.js';

/** A sink whose appends stay pending until the test settles them, and which remembers every batch it was handed. */
class HeldSink {
  readonly batches: string[][] = [];
  private readonly pending: { resolve(): void; reject(error: Error): void }[] = [];

  append(records: string[]): Promise<void> {
    this.batches.push([...records]);
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }

  get waiting(): number {
    return this.pending.length;
  }

  succeed(): void {
    this.pending.shift()!.resolve();
  }

  fail(): void {
    this.pending.shift()!.reject(new Error('broker gone (test)'));
  }
}

function counting(): QueueEvents & { delivered: number; errors: number } {
  const events = {
    delivered: 0,
    errors: 0,
    onDelivered: (count: number) => void (events.delivered += count),
    onSpooled: () => {},
    onDropped: () => {},
    onSinkError: () => void events.errors++,
    onSinkRecovered: () => {},
  };
  return events;
}

function queueOf(sink: HeldSink, events: QueueEvents, options: QueueOptions = {}): RecordQueue<string> {
  return new RecordQueue<string>(sink, (record) => record.length, resolveQueue({ retryMinMs: 1, retryMaxMs: 2, ...options }), null, events);
}

describe('record queue batching', () => {
  test('records that arrive during an append leave together, right after it', async () => {
    const sink = new HeldSink();
    const events = counting();
    const queue = queueOf(sink, events, { lingerMs: 0 });
    queue.push('a');
    await waitFor(() => sink.waiting === 1, 'the first append');
    for (const r of ['b', 'c', 'd']) queue.push(r);
    sink.succeed();
    await waitFor(() => sink.waiting === 1 && sink.batches.length === 2, 'the second append');
    sink.succeed();
    await waitFor(() => events.delivered === 4, 'all delivered');
    assert.deepEqual(sink.batches, [['a'], ['b', 'c', 'd']]);
    await queue.close(1000);
  });

  test('a failed batch is retried exactly as it was, even when more records wait behind it', async () => {
    const sink = new HeldSink();
    const events = counting();
    const queue = queueOf(sink, events, { lingerMs: 0 });
    queue.push('a');
    queue.push('b');
    await waitFor(() => sink.waiting === 1, 'the first append');
    queue.push('c');
    sink.fail();
    await waitFor(() => sink.waiting === 1 && sink.batches.length === 2, 'the retry');
    queue.push('d');
    sink.fail();
    await waitFor(() => sink.waiting === 1 && sink.batches.length === 3, 'the second retry');
    sink.succeed();
    await waitFor(() => sink.waiting === 1 && sink.batches.length === 4, 'the next batch');
    sink.succeed();
    await waitFor(() => events.delivered === 4, 'all delivered');
    assert.deepEqual(sink.batches, [['a', 'b'], ['a', 'b'], ['a', 'b'], ['c', 'd']]);
    assert.equal(events.errors, 2);
    await queue.close(1000);
  });

  test('a batch is bounded in records and in bytes, but always takes at least one record', async () => {
    const sink = new HeldSink();
    const events = counting();
    const queue = queueOf(sink, events, { lingerMs: 0, batchRecords: 3, batchBytes: 10 });
    queue.push('hold');
    await waitFor(() => sink.waiting === 1, 'the first append');
    for (const r of ['1', '2', '3', '4', 'xxxxxxxxxxxx', '55555', '666666']) queue.push(r);
    for (let appends = 1; events.delivered < 8; appends++) {
      await waitFor(() => sink.waiting === 1 && sink.batches.length === appends, `append ${appends}`);
      sink.succeed();
      await waitFor(() => events.delivered === sink.batches.slice(0, appends).flat().length, `append ${appends} delivered`);
    }
    assert.deepEqual(sink.batches, [['hold'], ['1', '2', '3'], ['4'], ['xxxxxxxxxxxx'], ['55555'], ['666666']]);
    await queue.close(1000);
  });

  test('closing sends what lingers at once', async () => {
    const sink = new HeldSink();
    const events = counting();
    // A linger far longer than the test: only close() can make the batch leave.
    const queue = queueOf(sink, events, { lingerMs: 600_000 });
    queue.push('a');
    queue.push('b');
    const closed = queue.close(60_000);
    await waitFor(() => sink.waiting === 1, 'the append close() triggered');
    sink.succeed();
    await closed;
    assert.deepEqual(sink.batches, [['a', 'b']]);
    assert.equal(events.delivered, 2);
  });
});
