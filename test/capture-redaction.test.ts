import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { startCaptureServer, type RedactionOptions } from '../index.js';
import { openFileLog } from '../shared/log/file-log.js';
import { captureKind } from '../shared/log/record-log.js';
import type { Capture } from '../shared/records/types.js';
import { headerValue } from '../shared/records/types.js';
import { MemorySink, rawRequest, readAll, startHttpServer } from './helpers/capture-helpers.js';
import { filesUnder } from './helpers/files-under.js';

const secrets = {
  authorization: 'Bearer SEKRIT-AUTH-91f3',
  cookie: 'sid=SEKRIT-COOKIE-77ab',
  apiKey: 'SEKRIT-APIKEY-0c1d',
  query: 'SEKRIT-QUERY-5e6f',
  jsonPassword: 'SEKRIT-JSONPW-a1b2',
  jsonPin: 'SEKRIT-PIN-c3d4',
  cardNumber: 'SEKRIT-CARD-e5f6',
  formPassword: 'SEKRIT-FORMPW-9a8b',
  gzipToken: 'SEKRIT-GZIP-7c6d',
  setCookie: 'SEKRIT-SETCOOKIE-3e2f',
  responseToken: 'SEKRIT-RESPTOKEN-1a0b',
};

/** Stable answers with a session cookie and a token, and echoes nothing of the request. */
async function startStable() {
  return startHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('set-cookie', `session=${secrets.setCookie}; HttpOnly`);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ok: true, access_token: secrets.responseToken, user: 'ann' }));
    });
  });
}

async function sendSecrets(url: string): Promise<void> {
  const common = { authorization: secrets.authorization, cookie: secrets.cookie, 'x-api-key': secrets.apiKey };
  await rawRequest(url, { path: `/login?token=${secrets.query}&page=2`, headers: { ...common, 'x-request-id': 'r-query' } });
  await rawRequest(url, {
    method: 'POST',
    path: '/users',
    headers: { 'content-type': 'application/json', 'x-request-id': 'r-json' },
    body: JSON.stringify({
      user: { name: 'ann', password: secrets.jsonPassword, devices: { phone: { serial: secrets.jsonPin } } },
      items: [{ sku: 'a', card_number: secrets.cardNumber }],
    }),
  });
  await rawRequest(url, {
    method: 'POST',
    path: '/form',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': 'r-form' },
    body: `name=ann&password=${secrets.formPassword}`,
  });
  await rawRequest(url, {
    method: 'POST',
    path: '/gzip',
    headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', 'x-request-id': 'r-gzip' },
    body: gzipSync(JSON.stringify({ refresh_token: secrets.gzipToken, keep: 'me' })),
  });
}

describe('redaction', () => {
  test('no secret reaches the log or the logs, and the redactions list names each one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'capture-redaction-'));
    const logLines: string[] = [];
    const logger = pino({ level: 'trace' }, new Writable({ write: (chunk, _e, cb) => (logLines.push(String(chunk)), cb()) }));
    const log = await openFileLog(captureKind, { dir });
    const stable = await startStable();
    const proxy = await startCaptureServer({
      port: 0,
      upstream: stable.url,
      sink: log,
      logger,
      queue: { spoolDir: join(dir, 'spool') },
      redaction: { bodyPaths: ['$.user.*.*.serial'] },
    });
    try {
      await sendSecrets(proxy.url);
      await proxy.close();
      const captures = await readAll(log);
      assert.equal(captures.length, 4);

      const written = await filesUnder(dir);
      assert.ok(written.length > 0);
      for (const file of written) {
        const bytes = await readFile(file);
        for (const [name, secret] of Object.entries(secrets)) {
          assert.equal(bytes.indexOf(secret), -1, `${name} found in ${file}`);
        }
      }
      for (const [name, secret] of Object.entries(secrets)) {
        assert.ok(!logLines.some((line) => line.includes(secret)), `${name} found in the pino log`);
      }

      const byId = (id: string) => captures.find((c) => c.clientRequestId === id)!;
      const query = byId('r-query');
      for (const entry of ['request.header:authorization', 'request.header:cookie', 'request.header:x-api-key', 'request.query:token']) {
        assert.ok(query.redactions.includes(entry), `${entry} listed`);
      }
      assert.ok(query.redactions.includes('response.header:set-cookie'));
      assert.ok(query.redactions.includes('response.body:$.access_token'));
      assert.equal(query.request.query, 'token=%5Bredacted%5D&page=2', 'other params keep their encoding');
      assert.equal(headerValue(query.request.headers, 'authorization'), 'Bearer [redacted]', 'the scheme is kept, the credential is not');
      assert.equal(headerValue(query.request.headers, 'cookie'), 'sid=[redacted]', 'cookie names are kept, their values are not');

      const json = byId('r-json');
      assert.deepEqual(
        [...json.redactions].sort(),
        ['request.body:$.items[*].card_number', 'request.body:$.user.devices.phone.serial', 'request.body:$.user.password', 'response.body:$.access_token', 'response.header:set-cookie'],
      );
      const body = JSON.parse(json.request.body.toString());
      assert.equal(body.user.name, 'ann', 'other fields are kept');
      assert.equal(body.user.password, '[redacted]');
      // A hash of the original body would let a guessed secret be checked: a redacted body has none.
      assert.equal(json.request.sha256, null);
      assert.equal(json.response!.sha256, null);
      assert.equal(query.request.sha256, createHash('sha256').digest('hex'), 'a body left as it was keeps its hash');

      const form = byId('r-form');
      assert.equal(form.request.body.toString(), 'name=ann&password=%5Bredacted%5D');
      assert.ok(form.redactions.includes('request.body:$.password'));

      const gzip = byId('r-gzip');
      assert.deepEqual(JSON.parse(gzip.request.body.toString()), { refresh_token: '[redacted]', keep: 'me' });
      assert.equal(headerValue(gzip.request.headers, 'content-encoding'), undefined, 'the stored body is no longer gzip');
      assert.equal(gzip.request.size > 0, true);
    } finally {
      await stable.close();
      await log.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  async function captureWith(redaction: RedactionOptions, requests: { path: string; body?: string }[]): Promise<Capture[]> {
    const stable = await startStable();
    const sink = new MemorySink();
    const proxy = await startCaptureServer({ port: 0, upstream: stable.url, sink, logger: pino({ level: 'silent' }), redaction });
    for (const r of requests) {
      await rawRequest(proxy.url, { method: r.body ? 'POST' : 'GET', path: r.path, body: r.body, headers: { 'content-type': 'application/json' } });
    }
    await proxy.close();
    await stable.close();
    return sink.records;
  }

  test('keyed hash keeps equal secrets equal and different secrets apart', async () => {
    const captures = await captureWith({ mode: 'hash', hashKey: 'test-key' }, [
      { path: '/a?api_key=same-secret' },
      { path: '/b', body: JSON.stringify({ password: 'same-secret' }) },
      { path: '/c?api_key=other-secret' },
    ]);
    const fromQuery = (c: Capture) => decodeURIComponent(c.request.query.split('=')[1]);
    const a = fromQuery(captures[0]);
    const b = JSON.parse(captures[1].request.body.toString()).password;
    const c = fromQuery(captures[2]);
    assert.match(a, /^hmac:[0-9a-f]{32}$/);
    assert.equal(a, b, 'the same secret hashes alike in a query and in a body');
    assert.notEqual(a, c);
    const otherKey = await captureWith({ mode: 'hash', hashKey: 'another-key' }, [{ path: '/a?api_key=same-secret' }]);
    assert.notEqual(fromQuery(otherKey[0]), a, 'the hash depends on the key');
  });

  test('bodies that cannot be scanned whole are not kept (truncated, undecodable); unparseable ones are kept and scanned as text', async () => {
    const stable = await startStable();
    const sink = new MemorySink();
    const proxy = await startCaptureServer({ port: 0, upstream: stable.url, sink, logger: pino({ level: 'silent' }), maxBodyBytes: 64 });
    const post = (id: string, headers: Record<string, string>, body: Buffer | string) =>
      rawRequest(proxy.url, { method: 'POST', path: '/p', headers: { ...headers, 'x-request-id': id }, body });
    const long = JSON.stringify({ note: 'x'.repeat(100), password: 'cut-secret' });
    await post('long', { 'content-type': 'application/json' }, long);
    await post('bad-gzip', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, 'not gzip at all');
    await post('bad-json', { 'content-type': 'application/json' }, '{"password": "half-secret"');
    await post('broken-json', { 'content-type': 'application/json' }, '{"note": "no secret here"');
    await post('text', { 'content-type': 'text/plain' }, 'plain text without secrets');
    await proxy.close();
    await stable.close();
    const byId = (id: string) => sink.records.find((c) => c.clientRequestId === id)!;
    assert.equal(byId('long').request.body.length, 0);
    assert.equal(byId('long').request.size, long.length);
    assert.ok(byId('long').redactions.includes('request.body:not-scanned(truncated)'));
    assert.ok(byId('bad-gzip').redactions.includes('request.body:not-scanned(compressed)'));
    assert.equal(byId('bad-gzip').request.body.length, 0);
    assert.equal(byId('bad-json').request.body.toString(), '{"password": "[redacted]"', 'an unparseable body is kept, its secrets masked');
    const requestEntries = (c: Capture) => c.redactions.filter((r) => r.startsWith('request.')).sort();
    assert.deepEqual(requestEntries(byId('bad-json')), ['request.body:text(password)', 'request.body:unparseable(json)']);
    assert.equal(byId('broken-json').request.body.toString(), '{"note": "no secret here"', 'kept as it is when nothing is found');
    assert.deepEqual(requestEntries(byId('broken-json')), []);
    assert.equal(byId('text').request.body.toString(), 'plain text without secrets');
  });

  test('drop mode removes the fields; turning redaction off keeps them', async () => {
    const [dropped] = await captureWith({ mode: 'drop' }, [{ path: '/x?token=t1&page=1', body: '{"secret":"s1","a":1}' }]);
    assert.equal(dropped.request.query, 'page=1');
    assert.deepEqual(JSON.parse(dropped.request.body.toString()), { a: 1 });
    const [kept] = await captureWith({ enabled: false }, [{ path: '/x?token=t1' }]);
    assert.equal(kept.request.query, 'token=t1');
    assert.deepEqual([...kept.redactions], []);
  });
});
