import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { startCaptureServer } from '../capture/capture-server.js';
import type { DiffReport } from '../diff/report.js';
import { openFileLog } from '../shared/log/file-log.js';
import { captureKind, resultKind } from '../shared/log/record-log.js';
import type { Result } from '../shared/records/types.js';
import { listenLocal, readAll, type LocalServer } from './helpers/local-server.js';
import { filesUnder } from './helpers/files-under.js';
import { runCli, type CliRun } from './helpers/run-cli.js';

/** Every secret of the exchange: the client's, stable's and the shadow's own. */
const secrets = {
  authorization: 'Bearer e2e-SEKRIT-auth-7f3a9c41',
  query: 'e2e-SEKRIT-query-51b2d8',
  stableCookie: 'e2e-SEKRIT-stable-cookie-0aa1',
  shadowCookie: 'e2e-SEKRIT-shadow-cookie-0bb2',
  stableToken: 'e2e-SEKRIT-stable-token-93cc',
  shadowToken: 'e2e-SEKRIT-shadow-token-84dd',
  stableText: 'e2e-SEKRIT-stable-text-75ee',
  shadowText: 'e2e-SEKRIT-shadow-text-66ff',
};
/** What must never be found, also in the forms logs and reports could carry (URL-encoded, bare token). */
const forbidden = [...Object.values(secrets), 'e2e-SEKRIT-auth-7f3a9c41', encodeURIComponent(secrets.authorization)];

/** Stable and shadow alike: echo the Authorization header and the query, and answer with secrets of their own. */
function echoApp(side: 'stable' | 'shadow') {
  const own = side === 'stable' ? { cookie: secrets.stableCookie, token: secrets.stableToken, text: secrets.stableText } : { cookie: secrets.shadowCookie, token: secrets.shadowToken, text: secrets.shadowText };
  const seen: Array<{ url: string; authorization: string | undefined }> = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push({ url: req.url!, authorization: req.headers.authorization });
    const url = new URL(req.url!, 'http://app');
    res.setHeader('set-cookie', `sid=${own.cookie}; HttpOnly`);
    if (url.pathname === '/plain') {
      res.setHeader('content-type', 'text/plain');
      res.end(`access_token=${own.text}\nstatus=ok\n`);
      return;
    }
    res.setHeader('content-type', 'application/json');
    if (url.pathname === '/public') {
      res.end(JSON.stringify({ ok: true, items: [1, 2, 3] }));
      return;
    }
    res.end(JSON.stringify({ user: 'ada', authorization: req.headers.authorization ?? null, query: Object.fromEntries(url.searchParams), url: req.url, access_token: own.token }));
  });
  return { server, seen };
}

const formats = ['text', 'json', 'jsonl', 'html', 'junit', 'md'] as const;

/** Every byte of every file under `dir` and of every CLI output: no secret in any of them. */
async function assertNoSecret(dir: string, runs: CliRun[]): Promise<number> {
  const files = await filesUnder(dir);
  const blobs: Array<[string, Buffer]> = files.map((f) => [f, Buffer.alloc(0)]);
  for (const entry of blobs) entry[1] = await readFile(entry[0]);
  runs.forEach((run, i) => blobs.push([`cli run ${i} stdout`, Buffer.from(run.stdout)], [`cli run ${i} stderr`, Buffer.from(run.stderr)]));
  for (const [where, bytes] of blobs) {
    for (const secret of forbidden) assert.equal(bytes.includes(secret), false, `${secret} found in ${where}`);
  }
  return blobs.reduce((n, [, bytes]) => n + bytes.length, 0);
}

async function diffAll(store: string, reports: string): Promise<{ runs: CliRun[]; report: DiffReport; verdicts: Array<{ verdict: string; url: string; notCompared?: string }> }> {
  const runs: CliRun[] = [];
  for (const format of formats) {
    const run = await runCli(['diff', '--store', store, '--format', format, '--out', join(reports, `report.${format}`)]);
    assert.ok(run.code === 0 || run.code === 1, `diff --format ${format}: ${run.stderr}`);
    runs.push(run);
  }
  const report = JSON.parse(await readFile(join(reports, 'report.json'), 'utf8')) as DiffReport;
  const verdicts = (await readFile(join(reports, 'report.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
  return { runs, report, verdicts };
}

describe('seal end to end: capture → file log → replay with the private key → diff', () => {
  let root: string;
  let stable: LocalServer & { seen: ReturnType<typeof echoApp>['seen'] };
  let shadow: LocalServer & { seen: ReturnType<typeof echoApp>['seen'] };
  let privateKeyFile: string;
  let keyId: string;
  const cliRuns: CliRun[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'shadowtap-seal-e2e-'));
    const s = echoApp('stable');
    const h = echoApp('shadow');
    stable = { ...(await listenLocal(s.server)), seen: s.seen };
    shadow = { ...(await listenLocal(h.server)), seen: h.seen };

    const keys = await runCli(['keys', 'generate', '--out', join(root, 'keys')]);
    assert.equal(keys.code, 0, keys.stderr);
    keyId = /^key id ([0-9a-f]{16})$/m.exec(keys.stdout)![1]!;
    privateKeyFile = join(root, 'keys', `shadowtap-seal-${keyId}.private.pem`);
    assert.equal((await stat(privateKeyFile)).mode & 0o777, 0o600);
    const publicKeyPem = await readFile(join(root, 'keys', `shadowtap-seal-${keyId}.public.pem`), 'utf8');

    const store = join(root, 'store');
    const captures = await openFileLog(captureKind, { dir: store });
    const capture = await startCaptureServer({
      port: 0,
      upstream: stable.url,
      sink: captures,
      service: 'e2e',
      redaction: { mode: 'seal', sealPublicKey: publicKeyPem },
      logger: pino({ level: 'warn' }, pino.destination(2)),
    });
    for (let i = 0; i < 3; i++) {
      await (await fetch(`${capture.url}/me?token=${secrets.query}&page=${i}`, { headers: { authorization: secrets.authorization } })).text();
    }
    await (await fetch(`${capture.url}/plain`, { headers: { authorization: secrets.authorization } })).text();
    await (await fetch(`${capture.url}/public`)).text();
    await capture.close();
    await captures.close();
    // Each scenario replays the same captures into a store of its own.
    for (const name of ['without-key', 'masked']) await cp(store, join(root, name), { recursive: true });
  });

  after(async () => {
    await stable.close();
    await shadow.close();
    await rm(root, { recursive: true, force: true });
  });

  test('with the key: the shadow gets what stable got, every pair matches, and no byte of either log or any report holds a secret', async () => {
    const store = join(root, 'store');
    const replay = await runCli(['replay', '--store', store, '--target', shadow.url, '--seal-private-key', privateKeyFile, '--no-progress']);
    assert.equal(replay.code, 0, replay.stderr);
    cliRuns.push(replay);
    assert.deepEqual(
      shadow.seen.map((r) => [r.url, r.authorization]),
      stable.seen.map((r) => [r.url, r.authorization]),
      'the shadow was sent the requests stable received',
    );
    assert.ok(shadow.seen.some((r) => r.authorization === secrets.authorization && r.url.includes(secrets.query)));

    const results = await openFileLog(resultKind, { dir: store, existing: true });
    const written: Result[] = await readAll(results);
    await results.close();
    const me = written.filter((r) => r.response && r.requestChanges.some((c) => c.name === 'header:authorization'));
    assert.equal(me.length, 4);
    for (const r of me) {
      const secretChanges = r.requestChanges.filter((c) => c.kind.startsWith('secret-'));
      assert.ok(secretChanges.every((c) => c.kind === 'secret-restored' && c.from === null && c.to === null), JSON.stringify(secretChanges));
      assert.ok(r.redactions.includes('response.header:set-cookie'), r.redactions.join());
    }

    const { runs, report, verdicts } = await diffAll(store, store);
    cliRuns.push(...runs);
    assert.equal(runs[0]!.code, 0, runs[0]!.stdout);
    assert.deepEqual(
      verdicts.map((v) => v.verdict),
      verdicts.map(() => 'match'),
      JSON.stringify(verdicts.filter((v) => v.verdict !== 'match')),
    );
    assert.equal(report.totals.match, 5);
    const meRoute = report.routes.find((r) => r.route === 'GET /me')!;
    assert.ok(meRoute.redactedFields! >= 3 * 3, `redacted fields of GET /me: ${meRoute.redactedFields}`);
    const bytes = await assertNoSecret(root, cliRuns);
    assert.ok(bytes > 10_000, `${bytes} bytes searched`);
  });

  test('without the key: the replay refuses in one line naming the key id it needs (exit 2) and sends nothing', async () => {
    const before = shadow.seen.length;
    const run = await runCli(['replay', '--store', join(root, 'without-key'), '--target', shadow.url, '--no-progress']);
    cliRuns.push(run);
    assert.equal(run.code, 2, run.stderr);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.match(run.stderr, new RegExp(`sealed with key ${keyId}`));
    assert.equal(shadow.seen.length, before);
  });

  test('with masked sends allowed: the pairs whose request was masked are altered, never mismatch', async () => {
    const store = join(root, 'masked');
    const run = await runCli(['replay', '--store', store, '--target', shadow.url, '--allow-masked', '--no-progress']);
    cliRuns.push(run);
    assert.equal(run.code, 0, run.stderr);
    const { runs, report, verdicts } = await diffAll(store, store);
    cliRuns.push(...runs);
    assert.equal(runs[0]!.code, 0, runs[0]!.stdout);
    assert.equal(report.totals.mismatch, 0);
    assert.equal(report.totals.altered, 4);
    assert.equal(report.totals.match, 1, 'the request without secrets is compared as usual');
    assert.match(verdicts.find((v) => v.verdict === 'altered')!.notCompared!, /request altered by redaction \(header:authorization/);
    assert.match(await readFile(join(store, 'report.text'), 'utf8'), /4 not compared \(request altered by redaction\)/);
    await assertNoSecret(root, cliRuns);
  });
});

describe('seal key flags', () => {
  test('an unreadable or wrong key is one line and exit 2, before anything is read or sent', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shadowtap-seal-flags-'));
    try {
      const generated = await runCli(['keys', 'generate', '--out', dir]);
      const id = /^key id ([0-9a-f]{16})$/m.exec(generated.stdout)![1]!;
      const publicKey = join(dir, `shadowtap-seal-${id}.public.pem`);
      for (const [args, message] of [
        [['--seal-private-key', join(dir, 'missing.pem')], /--seal-private-key .*missing\.pem: no such file/],
        [['--seal-private-key', publicKey], /is not an X25519 private key/],
      ] as const) {
        const run = await runCli(['replay', '--store', dir, '--target', 'http://127.0.0.1:9', ...args]);
        assert.equal(run.code, 2, run.stderr);
        assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
        assert.match(run.stderr, message);
      }
      // The same key id twice is never overwritten: a second pair lands beside the first.
      const again = await runCli(['keys', 'generate', '--out', dir]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal((await filesUnder(dir)).filter((f) => f.endsWith('.pem')).length, 4);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
