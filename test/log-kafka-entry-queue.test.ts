import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EntryQueue } from '../shared/log/entry-queue.js';

describe('entry queue (a Kafka read hands its record batches over through it)', () => {
  test('an item counts as the records it holds: a batch of 600 and one of 500 fill a 1,000-record queue', () => {
    const queue = new EntryQueue<string>({ bytes: 1_000_000, entries: 1000 });
    assert.equal(queue.offer('batch of 600', 100, 600), true);
    assert.equal(queue.offer('batch of 500', 100, 500), true);
    assert.equal(queue.offer('one more', 10, 1), false);
    assert.equal(queue.poll(), 'batch of 600');
    assert.equal(queue.offer('one more', 10, 1), true);
  });

  test('one item always fits an empty queue, however many records or bytes it holds', () => {
    const queue = new EntryQueue<string>({ bytes: 1000, entries: 10 });
    assert.equal(queue.offer('huge batch', 5000, 5000), true);
    assert.equal(queue.offer('next', 1, 1), false);
  });

  test('a put waiting on a full queue goes in once the queued records have drained to half, not before', async () => {
    const queue = new EntryQueue<string>({ bytes: 1_000_000, entries: 100 });
    for (const name of ['a', 'b', 'c', 'd']) assert.equal(queue.offer(name, 1, 25), true);
    let added = false;
    const put = queue.put('e', 1, async () => undefined, () => true, 25).then((result) => (added = result));
    assert.equal(queue.poll(), 'a');
    await Promise.resolve();
    assert.equal(added, false, '75 records still queued: more than half');
    assert.equal(queue.poll(), 'b');
    await put;
    assert.equal(added, true);
    assert.deepEqual([queue.poll(), queue.poll(), queue.poll(), queue.poll()], ['c', 'd', 'e', undefined]);
  });

  test('clear drops the queued records from the count', () => {
    const queue = new EntryQueue<string>({ bytes: 1_000_000, entries: 10 });
    assert.equal(queue.offer('batch', 1, 10), true);
    assert.equal(queue.offer('next', 1, 1), false);
    queue.clear();
    assert.equal(queue.offer('next', 1, 1), true);
  });
});
