import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { startCaptureServer } from '../capture/capture-server.js';
import type { PairRecord } from '../diff/pair-record.js';
import { runDiff } from '../index.js';
import { runReplay } from '../replay/replay-worker.js';
import { ShadowtapError } from '../shared/errors.js';
import type { Capture, Result } from '../shared/records/types.js';
import { rawRequest } from './helpers/capture-helpers.js';
import { runCli } from './helpers/run-cli.js';
import { makeCapture, readAll, startServer, tempStore, type TestServer, type TestStore } from './helpers/replay-helpers.js';

/** Stable and shadow of a price service; the shadow's regression: item 3 costs one more. */
const priceService = (shadow: boolean) => (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
  const id = Number(/\/prices\/(\d+)/.exec(req.url ?? '')?.[1] ?? 0);
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ id, price: 10 + id + (shadow && id === 3 ? 1 : 0), got: body.toString() }));
};

const items = [1, 2, 3, 4, 5];

describe('replay --reference: request-only captures (capture --mirror-target)', () => {
  let stable: TestServer;
  let shadow: TestServer;
  let store: TestStore;
  let captures: Capture[];

  before(async () => {
    stable = await startServer(priceService(false));
    shadow = await startServer(priceService(true));
    store = await tempStore();
    const mirror = await startCaptureServer({ port: 0, mirrorTarget: true, sink: store.captures, logger: pino({ level: 'silent' }) });
    // Copies as Istio mirrors them: the Host with -shadow appended.
    for (const id of items) await rawRequest(mirror.url, { path: `/prices/${id}`, headers: { host: 'prices-shadow:8080', 'x-request-id': `client-${id}` } });
    await rawRequest(mirror.url, { method: 'POST', path: '/prices/9', headers: { host: 'prices-shadow:8080', 'content-type': 'application/json' }, body: '{"set":1}' });
    await mirror.close();
    captures = await readAll(store.captures);
  });
  after(async () => {
    await stable.close();
    await shadow.close();
    await store.cleanup();
  });

  it('without --reference a replay of request-only captures stops at once and says what to pass', async () => {
    assert.equal(captures.length, items.length + 1);
    assert.ok(captures.every((c) => c.response === null));
    await assert.rejects(
      runReplay({ source: store.captures, results: store.results, target: shadow.url, group: 'no-reference' }),
      (error: unknown) => error instanceof ShadowtapError && error.exitCode === 2 && /--reference http:.*--no-reference/.test(error.message) && !error.message.includes('\n'),
    );
    assert.equal(shadow.seen.length, 0, 'nothing was sent');
    assert.equal((await readAll(store.results)).length, 0);
  });

  it('refuses a reference that is the target or the baseline, and a Host set by --set-header', async () => {
    const base = { source: store.captures, results: store.results, target: shadow.url };
    await assert.rejects(runReplay({ ...base, reference: `${shadow.url}/x` }), /--reference must be a stable instance, another origin than --target/);
    await assert.rejects(runReplay({ ...base, reference: stable.url, baseline: stable.url }), /--baseline must be a second stable instance/);
    await assert.rejects(runReplay({ ...base, reference: stable.url, setHeaders: [{ name: 'Host', value: 'x' }] }), /use --host-rewrite/);
    assert.equal(shadow.seen.length + stable.seen.length, 0);
  });

  it('sends each request to the reference and the shadow at once; the reference Result comes first', async () => {
    const summary = await runReplay({
      source: store.captures,
      results: store.results,
      target: shadow.url,
      reference: `${stable.url}/`,
      allowMethods: ['GET', 'POST'],
      group: 'with-reference',
    });
    assert.equal(summary.responses, items.length + 1);
    assert.deepEqual(summary.reference, { sent: items.length, errors: 0, skipped: 1 });

    // The stable reference got exactly what the shadow got, the recorded Host included; never the POST.
    const requests = (server: TestServer) => server.seen.map((s) => ({ method: s.method, url: s.url, rawHeaders: s.rawHeaders }));
    assert.deepEqual(requests(stable), requests(shadow).filter((r) => r.method === 'GET'));
    assert.ok(stable.seen.every((s) => s.headers.host === 'prices:8080' && s.headers['x-shadowtap-replay'] === '1'));

    const results = await readAll(store.results);
    assert.equal(results.length, 2 * (items.length + 1));
    for (const capture of captures) {
      const [reference, target] = results.filter((r) => r.captureId === capture.id);
      assert.equal(reference!.role, 'reference');
      assert.equal(target!.role, 'shadow');
      assert.equal(reference!.id, target!.id);
      assert.equal(reference!.scheduledTime, target!.scheduledTime);
      assert.equal(reference!.target, stable.url);
      assert.equal(reference!.replayMode, 'window');
      if (capture.request.method === 'POST') {
        assert.equal(reference!.outcome, 'skipped');
        assert.equal(reference!.skipReason, 'unsafe-method', 'an unsafe method never reaches a stable instance');
        continue;
      }
      assert.equal(reference!.outcome, 'response');
      assert.match(reference!.response!.sha256!, /^[0-9a-f]{64}$/);
      assert.deepEqual(
        reference!.requestChanges.map((c) => ({ ...c })),
        target!.requestChanges.map((c) => ({ ...c })),
        'both sides changed alike',
      );
    }
  });

  it('the diff compares the shadow with the reference: real verdicts, the seeded change found', async () => {
    const verdicts: PairRecord[] = [];
    await runDiff({ captures: store.captures, results: store.results, onVerdict: (v) => verdicts.push(v) });
    const byUrl = new Map(verdicts.map((v) => [v.url, v]));
    assert.equal(verdicts.length, items.length + 1);
    for (const id of items) assert.equal(byUrl.get(`/prices/${id}`)!.verdict, id === 3 ? 'mismatch' : 'match', `/prices/${id}`);
    assert.deepEqual(
      byUrl.get('/prices/3')!.differences.filter((d) => !d.noise).map((d) => d.path),
      ['$.price'],
    );
    // The POST went to the shadow only: nothing to compare it with, and the verdict says so.
    assert.equal(byUrl.get('/prices/9')!.verdict, 'no-baseline');
  });
});

describe('replay --reference on the command line', () => {
  let store: TestStore;
  let shadow: TestServer;

  before(async () => {
    store = await tempStore();
    shadow = await startServer();
    await store.captures.append([{ ...makeCapture('mirrored-1', Date.UTC(2026, 0, 1)), response: null } satisfies Capture]);
  });
  after(async () => {
    await shadow.close();
    await store.cleanup();
  });

  it('request-only captures without --reference: exit 2 and one line; --no-reference replays them for load and errors', async () => {
    const refused = await runCli(['replay', '--store', store.dir, '--target', shadow.url, '--no-progress']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /^shadowtap: these captures hold requests only \(capture --mirror-target\).*--reference http:\/\/stable:8080.*--no-reference[^\n]*\n$/);
    const loadOnly = await runCli(['replay', '--store', store.dir, '--target', shadow.url, '--no-progress', '--no-reference']);
    assert.equal(loadOnly.code, 0, loadOnly.stderr);
    const results: Result[] = await readAll(store.results);
    assert.deepEqual(results.map((r) => [r.role, r.outcome]), [['shadow', 'response']]);
  });
});
