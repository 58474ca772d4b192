import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ResultWriter } from '../replay/result-writer.js';
import { resultV2Defaults, type Result } from '../shared/records/types.js';

const result = (i: number): Result => ({
  id: `r-${i}`,
  captureId: `r-${i}`,
  source: { log: 'test', partition: 0, offset: i },
  target: 'http://shadow',
  scheduledTime: i,
  sentTime: null,
  attempt: 0,
  outcome: 'skipped',
  error: null,
  skipReason: 'dropped',
  response: null,
  latencyMicros: null,
  ...resultV2Defaults(),
});

/** A sink whose appends finish only when the test says so, in any order. */
function heldSink() {
  const held: Array<{ records: Result[]; finish(error?: Error): void }> = [];
  return {
    held,
    append(records: Result[]): Promise<void> {
      return new Promise((resolve, reject) => held.push({ records, finish: (error) => (error ? reject(error) : resolve()) }));
    },
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('result writer', () => {
  it('keeps several appends in flight and calls afterWrite one at a time, in the order appends finish', async () => {
    const sink = heldSink();
    const after: number[][] = [];
    let running = 0;
    const writer = new ResultWriter(
      sink,
      async (batch) => {
        running++;
        assert.equal(running, 1, 'afterWrite calls never overlap');
        await settle();
        after.push(batch.map((r) => r.source.offset));
        running--;
      },
      { maxBatch: 2, lingerMs: 1000, maxInFlight: 3 },
    );
    for (let i = 0; i < 8; i++) writer.add(result(i));
    assert.equal(sink.held.length, 3, 'three full batches go out at once; the fourth waits for a slot');
    assert.equal(writer.backlog, 8);
    sink.held[2]!.finish();
    sink.held[0]!.finish();
    await settle();
    await settle();
    assert.equal(sink.held.length, 4, 'a freed slot takes the waiting batch');
    sink.held[1]!.finish();
    sink.held[3]!.finish();
    await writer.flush();
    assert.deepEqual(after, [[4, 5], [0, 1], [2, 3], [6, 7]]);
    assert.equal(writer.backlog, 0);
    assert.equal(writer.failure, undefined);
  });

  it('stops at the first failed append: later batches are not followed by afterWrite', async () => {
    const sink = heldSink();
    const after: number[] = [];
    const writer = new ResultWriter(sink, async (batch) => void after.push(...batch.map((r) => r.source.offset)), { maxBatch: 1, lingerMs: 1000, maxInFlight: 2 });
    writer.add(result(0));
    writer.add(result(1));
    sink.held[0]!.finish(new Error('disk full'));
    await settle();
    sink.held[1]!.finish();
    await writer.flush();
    assert.match(writer.failure?.message ?? '', /disk full/);
    assert.deepEqual(after, []);
  });

  it('back-pressure waits only until the backlog is under the limit', async () => {
    const sink = heldSink();
    const writer = new ResultWriter(sink, async () => undefined, { maxBatch: 2, lingerMs: 1000, maxInFlight: 2 });
    for (let i = 0; i < 4; i++) writer.add(result(i));
    let below = false;
    const waiting = writer.belowBacklog(2).then(() => (below = true));
    await settle();
    assert.equal(below, false);
    sink.held[0]!.finish();
    await waiting;
    assert.equal(writer.backlog, 2);
    sink.held[1]!.finish();
    await writer.flush();
  });
});
