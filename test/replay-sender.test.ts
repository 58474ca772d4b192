import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ShadowSender } from '../replay/shadow-sender.js';
import { ReplayStats } from '../replay/replay-stats.js';
import { resultV2Defaults, type Result } from '../shared/records/types.js';
import { startServer, type TestServer } from './helpers/replay-helpers.js';

describe('shadow sender', () => {
  let shadow: TestServer;
  before(async () => {
    shadow = await startServer((req, res) => {
      if (req.url === '/hints') res.writeEarlyHints({ link: '</style.css>; rel=preload' });
      res.setHeader('x-dup', ['one', 'two']);
      // Three separate writes: the body reaches the sender in several chunks.
      res.write('a'.repeat(40));
      setImmediate(() => {
        res.write('b'.repeat(40));
        setImmediate(() => res.end('c'.repeat(40)));
      });
    });
  });
  after(() => shadow.close());

  const wholeBody = 'a'.repeat(40) + 'b'.repeat(40) + 'c'.repeat(40);
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
  const get = (path: string) => ({ method: 'GET', path, headers: ['host', new URL(shadow.url).host], body: undefined });

  it('keeps the body up to the limit across chunks, with the full size and the truncated flag', async () => {
    const sender = new ShadowSender(new URL(shadow.url), { connections: 1, timeoutMs: 5000, maxBodyBytes: 50 });
    try {
      const outcome = await sender.send(get('/big'));
      assert.ok(outcome.ok);
      assert.equal(outcome.response.status, 200);
      assert.equal(outcome.response.body.toString(), 'a'.repeat(40) + 'b'.repeat(10));
      assert.equal(outcome.response.size, 120);
      assert.equal(outcome.response.truncated, true);
      assert.equal(outcome.response.sha256, sha256(wholeBody), 'the hash covers every byte, also past the cut');
      assert.deepEqual(
        outcome.response.headers.filter((h) => h.name === 'x-dup').map((h) => h.value),
        ['one', 'two'],
      );
    } finally {
      await sender.close();
    }
  });

  it('answers with the final response after a 1xx informational one', async () => {
    const sender = new ShadowSender(new URL(shadow.url), { connections: 1, timeoutMs: 5000, maxBodyBytes: 1024 });
    try {
      const outcome = await sender.send(get('/hints'));
      assert.ok(outcome.ok);
      assert.equal(outcome.response.status, 200);
      assert.equal(outcome.response.body.toString(), wholeBody);
      assert.equal(outcome.response.truncated, false);
      assert.equal(outcome.response.sha256, sha256(wholeBody));
      assert.equal(outcome.response.headers.some((h) => h.name.toLowerCase() === 'link'), false);
    } finally {
      await sender.close();
    }
  });

  it('hashes a body cut in its first chunk, and one cut exactly at a chunk end', async () => {
    for (const [maxBodyBytes, kept] of [
      [10, 'a'.repeat(10)],
      [40, 'a'.repeat(40)],
    ] as const) {
      const sender = new ShadowSender(new URL(shadow.url), { connections: 1, timeoutMs: 5000, maxBodyBytes });
      try {
        const outcome = await sender.send(get('/cut'));
        assert.ok(outcome.ok);
        assert.equal(outcome.response.body.toString(), kept);
        assert.equal(outcome.response.truncated, true);
        assert.equal(outcome.response.sha256, sha256(wholeBody));
      } finally {
        await sender.close();
      }
    }
  });

  it('reports a request undici refuses as an error outcome instead of throwing', async () => {
    const sender = new ShadowSender(new URL(shadow.url), { connections: 1, timeoutMs: 5000, maxBodyBytes: 1024 });
    try {
      const outcome = await sender.send({ method: 'GET', path: 'no-leading-slash', headers: [], body: undefined });
      assert.equal(outcome.ok, false);
    } finally {
      await sender.close();
    }
  });
});

describe('replay summary rate', () => {
  const sent = (scheduledMs: number): Result => ({
    id: `r-${scheduledMs}`,
    captureId: `r-${scheduledMs}`,
    source: { log: 'test', partition: 0, offset: scheduledMs },
    target: 'http://shadow',
    scheduledTime: scheduledMs * 1000,
    sentTime: scheduledMs * 1000,
    attempt: 1,
    outcome: 'response',
    error: null,
    skipReason: null,
    response: { status: 200, headers: [], body: Buffer.alloc(0), size: 0, truncated: false, sha256: null },
    latencyMicros: 100,
    ...resultV2Defaults(),
  });

  it('is sends over the span from the first to the last scheduled send, not over the run with its start-up and drain', () => {
    const stats = new ReplayStats();
    // 201 sends 5 ms apart: 1 s of schedule, 200/s, in whatever order they finish.
    for (let i = 200; i >= 0; i--) stats.result(sent(1_000_000 + i * 5));
    const summary = stats.summary();
    assert.equal(summary.sent, 201);
    assert.equal(summary.achievedRate, 200);
  });
});
