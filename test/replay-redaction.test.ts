import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { hashKeyId, resolveRedaction } from '../shared/redaction/redaction-options.js';
import { Redactor } from '../shared/redaction/redactor.js';
import { runReplay, type ReplayOptions } from '../replay/replay-worker.js';
import { ShadowtapError } from '../shared/errors.js';
import type { Capture, HttpRequest } from '../shared/records/types.js';
import { generateSealKeys, openingKeyFromPem } from '../shared/redaction/seal.js';
import { makeCapture, readAll, startServer, tempStore, type TestServer, type TestStore } from './helpers/replay-helpers.js';

const t0 = Date.UTC(2026, 0, 1);
const secret = { auth: 'Bearer SEKRIT-REPLAY-AUTH', token: 'SEKRIT-REPLAY-QUERY', cookie: 'sid=SEKRIT-SHADOW-COOKIE', answer: 'SEKRIT-SHADOW-TOKEN' };
const keys = generateSealKeys();

/** A capture as the capture agent records it: redacted in `mode`, sealed to `keys` in seal mode. */
async function redactedCapture(id: string, mode: 'mask' | 'hash' | 'seal', request: Partial<HttpRequest> = {}, headers: string[] = []): Promise<Capture> {
  const capture = makeCapture(id, t0, {
    path: '/echo',
    query: `token=${secret.token}&page=2`,
    headers: [
      { name: 'host', value: 'stable.local' },
      { name: 'Authorization', value: secret.auth },
      { name: 'accept', value: 'application/json' },
    ],
    ...request,
  });
  const redactor = new Redactor(resolveRedaction({ mode, headers, hashKey: 'test-hash-key', ...(mode === 'seal' && { sealPublicKey: keys.publicKeyPem }) }));
  return redactor.redact(capture);
}

describe('replay of redacted captures', () => {
  let shadow: TestServer;
  let store: TestStore;

  before(async () => {
    // Echoes what it got, and answers with secrets of its own.
    shadow = await startServer((req, res) => {
      res.setHeader('set-cookie', secret.cookie);
      res.setHeader('content-type', 'application/json');
      const url = new URL(req.url!, 'http://shadow');
      res.end(JSON.stringify({ authorization: req.headers.authorization ?? null, query: Object.fromEntries(url.searchParams), access_token: secret.answer }));
    });
  });
  beforeEach(async () => {
    shadow.seen.length = 0;
    store = await tempStore();
  });
  after(async () => {
    await shadow.close();
    await store?.cleanup();
  });

  const replay = (options: Partial<ReplayOptions> = {}) => runReplay({ source: store.captures, results: store.results, target: shadow.url, ...options });

  it('sends the sealed originals when it holds the key, names them without values, and redacts the answer', async () => {
    await store.captures.append([await redactedCapture('sealed-1', 'seal')]);
    const summary = await replay({ sealKeys: [openingKeyFromPem(keys.privateKeyPem)] });
    assert.equal(summary.responses, 1);
    assert.equal(shadow.seen[0]!.headers.authorization, secret.auth);
    assert.equal(shadow.seen[0]!.url, `/echo?token=${secret.token}&page=2`);
    const [result] = await readAll(store.results);
    assert.deepEqual(
      result!.requestChanges.filter((c) => c.kind.startsWith('secret-')).map((c) => [c.kind, c.name, c.from, c.to]),
      [
        ['secret-restored', 'header:authorization', null, null],
        ['secret-restored', 'query:token', null, null],
      ],
    );
    assert.ok(result!.redactions.includes('response.header:set-cookie'), `redactions: ${result!.redactions}`);
    assert.ok(result!.redactions.includes('response.body:$.authorization'));
    assert.ok(result!.redactions.includes('response.body:$.access_token'));
    assert.ok(result!.redactions.includes('response.body:$.query.token'));
    assert.equal(result!.response!.sha256, null, 'no hash of the unredacted answer');
    const stored = JSON.stringify(result) + result!.response!.body.toString();
    for (const value of Object.values(secret)) assert.equal(stored.includes(value.split('=').at(-1)!), false, `${value} reached the Result`);
  });

  it('a restored secret the replay then removes or replaces is named without its value', async () => {
    const capture = await redactedCapture(
      'sealed-4',
      'seal',
      { headers: [{ name: 'host', value: 'stable.local' }, { name: 'X-Internal', value: 'SEKRIT-INTERNAL-1' }, { name: 'X-Other', value: 'SEKRIT-INTERNAL-2' }] },
      ['x-internal', 'x-other'],
    );
    await store.captures.append([capture]);
    await replay({ sealKeys: [openingKeyFromPem(keys.privateKeyPem)], removeHeaders: ['x-internal'], setHeaders: [{ name: 'x-other', value: 'replacement' }] });
    const [result] = await readAll(store.results);
    const removed = result!.requestChanges.find((c) => c.kind === 'header-removed');
    assert.deepEqual([removed?.name.toLowerCase(), removed?.from], ['x-internal', null]);
    assert.equal(JSON.stringify(result!.requestChanges).includes('SEKRIT-INTERNAL'), false, JSON.stringify(result!.requestChanges));
  });

  it('refuses to send a sealed capture without its key, naming the key id, and sends nothing', async () => {
    await store.captures.append([await redactedCapture('sealed-2', 'seal')]);
    const other = generateSealKeys();
    await assert.rejects(replay({ sealKeys: [openingKeyFromPem(other.privateKeyPem)] }), (error: unknown) => {
      assert.ok(error instanceof ShadowtapError);
      assert.equal(error.exitCode, 2);
      assert.match(error.message, new RegExp(`sealed with key ${keys.keyId} and the keys given are ${other.keyId}`));
      assert.match(error.message, /--allow-masked/);
      return true;
    });
    assert.equal(shadow.seen.length, 0);
    assert.equal((await readAll(store.results)).length, 0);
  });

  it('with masked sends allowed, sends the masked request and names every masked part', async () => {
    await store.captures.append([await redactedCapture('sealed-3', 'seal')]);
    await replay({ allowMasked: true });
    assert.equal(shadow.seen[0]!.headers.authorization, 'Bearer [redacted]');
    const [result] = await readAll(store.results);
    assert.deepEqual(
      result!.requestChanges.filter((c) => c.kind.startsWith('secret-')).map((c) => `${c.kind} ${c.name}`),
      ['secret-masked header:authorization', 'secret-masked query:token'],
    );
  });

  it('a session id in the path is sent as stable got it with the key, and named as masked without it', async () => {
    const path = '/cart;jsessionid=SEKRIT0PATH0SESSION42';
    await store.captures.append([await redactedCapture('path-1', 'seal', { path, query: '' })]);
    await replay({ sealKeys: [openingKeyFromPem(keys.privateKeyPem)] });
    assert.equal(shadow.seen[0]!.url, path);
    const [restored] = await readAll(store.results);
    assert.ok(restored!.requestChanges.some((c) => c.kind === 'secret-restored' && c.name === 'path:;jsessionid'), JSON.stringify(restored!.requestChanges));

    shadow.seen.length = 0;
    const masked = await tempStore();
    try {
      await masked.captures.append([await redactedCapture('path-2', 'seal', { path, query: '' })]);
      await runReplay({ source: masked.captures, results: masked.results, target: shadow.url, allowMasked: true });
      assert.equal(shadow.seen[0]!.url, '/cart;jsessionid=%5Bredacted%5D');
      const [result] = await readAll(masked.results);
      assert.ok(result!.requestChanges.some((c) => c.kind === 'secret-masked' && c.name === 'path:;jsessionid'), JSON.stringify(result!.requestChanges));
      assert.equal(JSON.stringify(result).includes('SEKRIT0PATH'), false);
    } finally {
      await masked.cleanup();
    }
  });

  it('in mask mode a header the user replaces (--set-header) is not reported as masked; the query still is', async () => {
    await store.captures.append([await redactedCapture('masked-1', 'mask')]);
    await replay({ setHeaders: [{ name: 'authorization', value: 'Bearer shadow-test-token' }] });
    assert.equal(shadow.seen[0]!.headers.authorization, 'Bearer shadow-test-token');
    const [result] = await readAll(store.results);
    assert.deepEqual(result!.requestChanges.filter((c) => c.kind.startsWith('secret-')).map((c) => `${c.kind} ${c.name}`), ['secret-masked query:token']);
  });

  it('a body capture did not keep is skipped with its reason, never sent empty', async () => {
    const capture = makeCapture('unparsed-1', t0, { method: 'GET', path: '/search', body: Buffer.alloc(0), size: 15 });
    capture.redactions = ['request.body:not-scanned(truncated)'];
    await store.captures.append([capture]);
    const summary = await replay();
    assert.equal(shadow.seen.length, 0);
    const [result] = await readAll(store.results);
    assert.equal(result!.outcome, 'skipped');
    assert.equal(result!.skipReason, 'body-not-kept');
    assert.equal(summary.responses, 0);
  });

  it('hash-mode captures need the hash key before anything is sent', async () => {
    await store.captures.append([await redactedCapture('hashed-1', 'hash')]);
    const saved = process.env.SHADOWTAP_REDACT_KEY;
    delete process.env.SHADOWTAP_REDACT_KEY;
    try {
      await assert.rejects(replay(), /hash mode: set SHADOWTAP_REDACT_KEY/);
      assert.equal(shadow.seen.length, 0);
      // Another key would hash every secret of the shadow's answers differently from stable's.
      await assert.rejects(replay({ redaction: { hashKey: 'another-key' }, group: 'other-key' }), (error: unknown) => {
        assert.ok(error instanceof ShadowtapError);
        assert.equal(error.exitCode, 2);
        assert.match(error.message, new RegExp(`hashed with key id ${hashKeyId('test-hash-key')}, and SHADOWTAP_REDACT_KEY has key id ${hashKeyId('another-key')}`));
        return true;
      });
      assert.equal(shadow.seen.length, 0);
      // With the capture's key, equal secrets hash alike on both sides.
      await replay({ redaction: { hashKey: 'test-hash-key' }, group: 'with-key' });
      const [result] = await readAll(store.results);
      const body = JSON.parse(result!.response!.body.toString()) as { access_token: string };
      assert.match(body.access_token, /^hmac:[0-9a-f]{32}$/);
    } finally {
      if (saved !== undefined) process.env.SHADOWTAP_REDACT_KEY = saved;
    }
  });
});
