import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runReplay } from '../index.js';
import type { Capture } from '../shared/records/types.js';
import { makeCapture, readAll, startServer, tempStore } from './helpers/replay-helpers.js';

/**
 * Stable answered a counter's reads and writes one after another. The shadow (the same program)
 * answers a read only after a while, reading its state as it answers: if the replay lets a later
 * write leave before an earlier read is answered, that read shows a state stable never had.
 */
test('with 64 requests in flight, writes keep the place stable saw them in: every read answers what stable answered', async () => {
  let counter = 0;
  let reading = 0;
  let mostReading = 0;
  const shadow = await startServer((req, res, body) => {
    if (req.method === 'PUT') {
      counter = Number(body.toString());
      res.end(String(counter));
    } else {
      // A slow read, answered with the state of its answering moment.
      mostReading = Math.max(mostReading, ++reading);
      setTimeout(() => {
        reading--;
        res.end(String(counter));
      }, 20);
    }
  });
  const store = await tempStore();
  try {
    const t0 = Date.UTC(2026, 0, 1);
    const captures: Capture[] = [];
    for (let i = 0; i < 12; i++) {
      // GET 0, PUT 1, GET 1, PUT 2, GET 2, …: each answered by stable before the next arrived.
      const write = i % 2 === 1;
      const value = String(Math.ceil(i / 2));
      const capture = makeCapture(`c${i}`, t0 + i * 10, write ? { method: 'PUT', path: '/counter', body: Buffer.from(value), size: value.length } : { path: '/counter' });
      capture.timings.end = capture.timings.start + 5_000;
      capture.response = { ...capture.response!, body: Buffer.from(value), size: value.length };
      captures.push(capture);
    }
    await store.captures.append(captures);
    const summary = await runReplay({ source: store.captures, results: store.results, target: shadow.url, allowMethods: ['GET', 'PUT'], guardedWrites: false, concurrency: 64 });
    assert.equal(summary.responses, 12);
    const answers = new Map((await readAll(store.results)).map((r) => [r.captureId, r.response!.body.toString()]));
    for (const capture of captures) {
      assert.equal(answers.get(capture.id), capture.response!.body.toString(), `${capture.id} ${capture.request.method}: the shadow answered as stable did`);
    }
    assert.deepEqual(
      shadow.seen.map((s) => s.method),
      captures.map((c) => c.request.method),
      'the shadow got them in the order stable did',
    );

    // Reads with no write between them are not held, though stable answered them one by one.
    const reads = Array.from({ length: 8 }, (_, i) => {
      const capture = makeCapture(`r${i}`, t0 + 1_000 + i * 10, { path: '/counter' });
      capture.timings.end = capture.timings.start + 5_000;
      capture.response = { ...capture.response!, body: Buffer.from('6'), size: 1 };
      return capture;
    });
    mostReading = 0;
    await store.captures.append(reads);
    await runReplay({ source: store.captures, results: store.results, target: shadow.url, allowMethods: ['GET', 'PUT'], guardedWrites: false, concurrency: 64, fromMs: t0 + 1_000 });
    assert.ok(mostReading > 1, `reads left together (${mostReading} at once at most)`);
  } finally {
    await shadow.close();
    await store.cleanup();
  }
});
