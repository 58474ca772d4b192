import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { goreplayItems, harItems, importCaptures } from '../index.js';
import { packageRoot } from '../shared/package-root.js';
import { openFileLog } from '../shared/log/file-log.js';
import { captureKind } from '../shared/log/record-log.js';
import type { Capture } from '../shared/records/types.js';
import { headerValue } from '../shared/records/types.js';
import { finished, MemorySink, readAll, spawnCommand } from './helpers/capture-helpers.js';

const fixtures = join(packageRoot(), 'test', 'fixtures', 'capture');
const source = { agent: 'import-test', service: 'shop', maxBodyBytes: 1024 * 1024 };

describe('HAR import', () => {
  let sink: MemorySink;
  let summary: Awaited<ReturnType<typeof importCaptures>>;
  const byPath = (path: string) => sink.records.find((c) => c.request.path === path)!;

  before(async () => {
    sink = new MemorySink();
    summary = await importCaptures(harItems(await readFile(join(fixtures, 'sample.har'), 'utf8'), source), sink);
  });

  test('imports entries with a response and says why the others were skipped', () => {
    assert.equal(summary.imported, 3);
    assert.equal(summary.skipped, 2);
    assert.deepEqual(summary.reasons, { 'no response (status 0: blocked or failed in the browser)': 1, 'invalid request url': 1 });
  });

  test('maps times, headers and bodies', () => {
    const items = byPath('/api/items');
    assert.equal(items.clientRequestId, 'har-1');
    assert.match(items.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const start = Date.parse('2026-11-26T10:00:00.000Z') * 1000;
    assert.equal(items.captureTime, start);
    assert.deepEqual({ ...items.timings }, { start, firstByte: start + 31_500, end: start + 42_500 });
    assert.equal(items.request.headers.some((h) => h.name.startsWith(':')), false, 'pseudo-headers dropped');
    assert.equal(items.response!.status, 200);
    assert.equal(items.response!.body.toString(), '{"items":[1,2],"page":2}');
    assert.equal(headerValue(items.response!.headers, 'content-encoding'), undefined, 'HAR bodies are decoded');
    const logo = byPath('/logo.png');
    assert.deepEqual([...logo.response!.body], [0x89, 0x50, 0x4e, 0x47, 0x00, 0xff], 'base64 content decoded');
  });

  test('redacts like the live agent', () => {
    assert.equal(byPath('/api/items').request.query, 'page=2&access_token=%5Bredacted%5D');
    const login = byPath('/api/login');
    assert.deepEqual(JSON.parse(login.request.body.toString()), { user: 'ann', password: '[redacted]' });
    assert.ok(login.redactions.includes('request.header:authorization'));
    const all = JSON.stringify(sink.records.map((c: Capture) => [c.request, c.response].map((p) => p && { ...p, body: p.body.toString() })));
    assert.equal(all.includes('har-secret'), false);
  });
});

describe('GoReplay import', () => {
  let sink: MemorySink;
  let summary: Awaited<ReturnType<typeof importCaptures>>;

  before(async () => {
    sink = new MemorySink();
    summary = await importCaptures(goreplayItems(await readFile(join(fixtures, 'sample.gor')), source), sink);
  });

  test('pairs requests with original responses by id; skips replayed, orphan and malformed records', () => {
    assert.equal(summary.imported, 3);
    assert.deepEqual(summary.reasons, { 'replayed response (type 3)': 1, 'response without a request': 1, 'malformed record': 1 });
    assert.deepEqual(
      sink.records.map((c) => [c.clientRequestId, c.request.method, c.request.path, c.response?.status ?? null]),
      [
        [null, 'GET', '/users', 200],
        ['gor-login', 'POST', '/login', 401],
        [null, 'DELETE', '/users/9', null],
      ],
    );
    // GoReplay's own ids are unique within one recording only: captures get ids of their own.
    assert.equal(new Set(sink.records.map((c) => c.id)).size, 3);
    assert.ok(sink.records.every((c) => /^[0-9a-f-]{36}$/.test(c.id)));
  });

  test('keeps times, bodies (chunked decoded) and redacts form fields', () => {
    const [get, login] = sink.records;
    assert.equal(get.captureTime, 1_764_151_200_000_000);
    assert.equal(get.timings.end, 1_764_151_200_005_000);
    assert.equal(get.request.query, 'id=1');
    assert.equal(get.response!.body.toString(), '{"id":1,"name":"al"}');
    assert.equal(login.response!.body.toString(), 'no way!');
    assert.equal(login.request.body.toString(), 'user=bob&password=%5Bredacted%5D');
    assert.equal(login.request.size, 36);
  });
});

describe('shadowtap import (command)', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'capture-import-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('writes captures to the store and reports counts with reasons', async () => {
    const run = await finished(spawnCommand('import', ['import', 'goreplay', join(fixtures, 'sample.gor'), '--store', dir]));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /imported 3 captures from sample\.gor .*skipped 3: 1 replayed response \(type 3\), 1 response without a request, 1 malformed record/);
    const log = await openFileLog(captureKind, { dir });
    const stored = await readAll(log);
    await log.close();
    assert.equal(stored.length, 3);
    for (const file of await readdir(join(dir, 'captures'))) {
      if (!file.endsWith('.avro')) continue;
      assert.equal((await readFile(join(dir, 'captures', file))).includes('gor-secret'), false);
    }
  });

  test('a file in the wrong format is one clear line and exit code 2', async () => {
    const run = await finished(spawnCommand('import', ['import', 'har', join(fixtures, 'sample.gor'), '--store', dir]));
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^shadowtap: .*sample\.gor is not JSON .*HAR 1\.2[^\n]*\n$/);
  });

  test('--help shows defaults and an example', async () => {
    const run = await finished(spawnCommand('import', ['import', 'har', '--help']));
    assert.equal(run.code, 0);
    assert.match(run.stdout, /--redact-mode <mode>.*\(choices: "mask", "drop", "hash",\s+"seal", default: "mask"\)/s);
    assert.match(run.stdout, /Example:\n {2}shadowtap import har/);
  });
});
