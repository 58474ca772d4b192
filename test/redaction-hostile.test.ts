import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { startCaptureServer } from '../index.js';
import { openFileLog } from '../shared/log/file-log.js';
import { captureKind } from '../shared/log/record-log.js';
import type { Capture } from '../shared/records/types.js';
import { headerValue } from '../shared/records/types.js';
import { rawRequest, readAll, startHttpServer } from './helpers/capture-helpers.js';
import { filesUnder } from './helpers/files-under.js';

/** Random secrets, each in the format a real one has, so a leak cannot be a coincidence. */
const alnum = (n: number) => [...randomBytes(n)].map((b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'[b % 62]).join('');
const digits = (n: number) => [...randomBytes(n)].map((b) => String(b % 10)).join('');
function luhnCard(): string {
  const body = `4${digits(14)}`;
  for (let check = 0; check < 10; check++) {
    const candidate = body + check;
    let sum = 0;
    for (let i = 0; i < 16; i++) {
      let d = Number(candidate[15 - i]);
      if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
      sum += d;
    }
    if (sum % 10 === 0) return candidate;
  }
  throw new Error('unreachable');
}
function germanIban(): string {
  const bban = digits(18);
  const remainder = Number(BigInt(`${bban}131400`) % 97n);
  return `DE${String(98 - remainder).padStart(2, '0')}${bban}`;
}
const jwt = () =>
  `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')}.${Buffer.from(`{"sub":"${alnum(8)}"}`).toString('base64url')}.${alnum(43)}`;
const awsKeyId = () => `AKIA${[...randomBytes(16)].map((b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[b % 32]).join('')}`;

const s = {
  queryKey: alnum(24),
  querySig: alnum(28),
  queryAwsKeyId: awsKeyId(),
  oauthCode: alnum(20),
  xAccessKey: alnum(30),
  xClientKey: alnum(30),
  bearer: `${alnum(30)}9`,
  cookie: alnum(26),
  debugJwt: jwt(),
  jsonPassword: `pw-${alnum(14)}`,
  jsonIban: germanIban(),
  jsonPan: luhnCard(),
  cardAsNumber: luhnCard(),
  nestedClientSecret: alnum(32),
  arrayToken: alnum(32),
  noteJwt: jwt(),
  urlPassword: alnum(16),
  textJsonPassword: `pw-${alnum(14)}`,
  vndJsonToken: alnum(32),
  plainJsonSecret: alnum(32),
  untypedJsonApiKey: alnum(32),
  untypedFormPassword: `pw-${alnum(14)}`,
  formRefreshToken: alnum(32),
  multipartPassword: `pw-${alnum(14)}`,
  multipartNoteGithub: `ghp_${alnum(36)}`,
  multipartFileAws: awsKeyId(),
  multipartFilePem: randomBytes(48).toString('base64'),
  gzipPassword: `pw-${alnum(14)}`,
  textCard: luhnCard(),
  textApiKey: alnum(32),
  deepPassword: `pw-${alnum(14)}`,
  brokenJsonStripe: `sk_live_${alnum(24)}`,
  echoedToken: alnum(28),
  redirectToken: alnum(28),
  echoedHeaderToken: `${alnum(30)}7`,
  responseTextToken: `ya29.${alnum(40)}`,
  responseSetCookie: alnum(26),
  responseAccessToken: alnum(32),
  responseSlack: `xoxb-${digits(11)}-${digits(12)}-${alnum(24)}`,
};

/** Ordinary values that must come through unchanged. */
const ordinaryQuery = 'author=ann&authorId=7&tokens_used=5&passwordless=true&auth_method=otp&sessions_count=3&page=2';
const ordinaryResponse = {
  author: 'ann',
  authorId: 'u-1',
  authority: 'registry',
  tokens_used: 12,
  passwordless: true,
  sessions_count: 3,
  signature_algorithm: 'RS256',
  tokenizer: 'bpe',
  auth_method: 'otp',
  author_count: 2,
  has_password: false,
  next_page_token: 'cursor-ordinary-42',
  order_id: 1234567890123,
  tags: [{ key: 'env', value: 'prod' }],
};

function deepJson(levels: number, leaf: string): string {
  return '{"a":'.repeat(levels) + leaf + '}'.repeat(levels);
}

test('the hostile request set leaves no secret in any byte of the log and changes no ordinary field', { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'redaction-hostile-'));
  const logLines: string[] = [];
  const logger = pino({ level: 'trace' }, new Writable({ write: (chunk, _e, cb) => (logLines.push(String(chunk)), cb()) }));
  const stable = await startHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://stable');
      res.setHeader('access-control-allow-credentials', 'true');
      res.setHeader('www-authenticate', 'Bearer realm="orders"');
      res.setHeader('x-session-count', '4');
      if (url.pathname === '/echo-url') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url, ok: true }));
      } else if (url.pathname === '/redirect') {
        res.writeHead(302, { location: `/next?token=${url.searchParams.get('token')}&page=2` }).end();
      } else if (url.pathname === '/echo-header') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ seen: req.headers.authorization, ok: true }));
      } else if (url.pathname === '/text-token') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end(`access_token=${s.responseTextToken}&expires_in=3600&scope=read`);
      } else {
        res.setHeader('set-cookie', `session=${s.responseSetCookie}; Path=/; HttpOnly`);
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ ...ordinaryResponse, access_token: s.responseAccessToken, hook: `notify with ${s.responseSlack}` }));
      }
    });
  });
  const log = await openFileLog(captureKind, { dir });
  const proxy = await startCaptureServer({ port: 0, upstream: stable.url, sink: log, logger, queue: { spoolDir: join(dir, 'spool') } });
  const boundary = 'hostile-boundary-7f3a';
  const multipart = [
    `--${boundary}\r\nContent-Disposition: form-data; name="user"\r\n\r\nann`,
    `--${boundary}\r\nContent-Disposition: form-data; name="password"\r\n\r\n${s.multipartPassword}`,
    `--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nuse ${s.multipartNoteGithub} for the deploy`,
    `--${boundary}\r\nContent-Disposition: form-data; name="config"; filename="settings.ini"\r\nContent-Type: text/plain\r\n\r\n` +
      `region=eu\naws_access_key_id=${s.multipartFileAws}\n-----BEGIN PRIVATE KEY-----\n${s.multipartFilePem}\n-----END PRIVATE KEY-----\n`,
    `--${boundary}--\r\n`,
  ].join('\r\n');
  const requests: Array<{ id: string; method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer }> = [
    {
      id: 'query-headers',
      path: `/search?${ordinaryQuery}&key=${s.queryKey}&sig=${s.querySig}&AWSAccessKeyId=${s.queryAwsKeyId}`,
      headers: {
        'x-access-key': s.xAccessKey,
        'x-client-key': s.xClientKey,
        authorization: `Bearer ${s.bearer}`,
        cookie: `sid=${s.cookie}; theme=dark`,
        'x-debug-context': s.debugJwt,
        'x-request-color': 'blue',
      },
    },
    { id: 'oauth-callback', path: `/oauth/callback?code=${s.oauthCode}&state=st-ordinary-1` },
    {
      id: 'json',
      method: 'POST',
      path: '/orders',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        author: 'ann',
        password: s.jsonPassword,
        iban: s.jsonIban,
        pan: s.jsonPan,
        card: s.cardAsNumber,
        quantity: 3,
        gift: false,
        app: { client_secret: s.nestedClientSecret, name: 'shop' },
        grants: [{ access_token: s.arrayToken, scope: 'read' }],
        note: `signed ${s.noteJwt} ok`,
        repo: `https://deploy:${s.urlPassword}@git.example.com/shop.git`,
      }),
    },
    { id: 'text-json', method: 'POST', path: '/t', headers: { 'content-type': 'text/json' }, body: JSON.stringify({ password: s.textJsonPassword, keep: 'text-json-visible' }) },
    { id: 'vnd-json', method: 'POST', path: '/v', headers: { 'content-type': 'application/vnd.api+json' }, body: JSON.stringify({ data: { attributes: { api_token: s.vndJsonToken } } }) },
    { id: 'plain-json', method: 'POST', path: '/p', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ client_secret: s.plainJsonSecret }) },
    { id: 'untyped-json', method: 'POST', path: '/u', body: JSON.stringify({ api_key: s.untypedJsonApiKey }) },
    { id: 'untyped-form', method: 'POST', path: '/f', body: `user=bob&password=${s.untypedFormPassword}` },
    { id: 'form', method: 'POST', path: '/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=refresh_token&refresh_token=${s.formRefreshToken}` },
    { id: 'multipart', method: 'POST', path: '/upload', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body: multipart },
    {
      id: 'gzip',
      method: 'POST',
      path: '/g',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify({ password: s.gzipPassword, keep: 'gzip-visible' })),
    },
    { id: 'text', method: 'POST', path: '/notes', headers: { 'content-type': 'text/plain' }, body: `pay with ${s.textCard} please\napi_key=${s.textApiKey}\nthanks` },
    { id: 'deep', method: 'POST', path: '/deep', headers: { 'content-type': 'application/json' }, body: deepJson(10_000, `{"password":"${s.deepPassword}"}`) },
    { id: 'broken-json', method: 'POST', path: '/b', headers: { 'content-type': 'application/json' }, body: `{"note": "charge with ${s.brokenJsonStripe}", ` },
    { id: 'echo-url', path: `/echo-url?token=${s.echoedToken}&page=2` },
    { id: 'redirect', path: `/redirect?token=${s.redirectToken}` },
    { id: 'echo-header', path: '/echo-header', headers: { authorization: `Bearer ${s.echoedHeaderToken}` } },
    { id: 'text-token', path: '/text-token' },
  ];
  try {
    for (const r of requests) {
      const answer = await rawRequest(proxy.url, { method: r.method, path: r.path, headers: { ...r.headers, 'x-request-id': r.id }, body: r.body });
      assert.ok(answer.status === 200 || answer.status === 302, `${r.id}: ${answer.status}`);
    }
    await proxy.close();
    const captures = await readAll(log);
    assert.equal(captures.length, requests.length, 'every capture is recorded, the 10,000-level body too');

    for (const file of await filesUnder(dir)) {
      const bytes = await readFile(file);
      for (const [name, secret] of Object.entries(s)) assert.equal(bytes.indexOf(secret), -1, `the ${name} secret is in ${file}`);
    }
    for (const [name, secret] of Object.entries(s)) assert.ok(!logLines.some((line) => line.includes(secret)), `the ${name} secret is in the agent's log`);

    const byId = (id: string): Capture => captures.find((c) => c.clientRequestId === id)!;
    const json = (c: Capture, side: 'request' | 'response') => JSON.parse((side === 'request' ? c.request.body : c.response!.body).toString());

    const first = byId('query-headers');
    assert.ok(first.request.query.startsWith(`${ordinaryQuery}&key=`), 'ordinary parameters keep their exact text');
    assert.equal(headerValue(first.request.headers, 'x-request-color'), 'blue');
    assert.equal(headerValue(first.response!.headers, 'access-control-allow-credentials'), 'true');
    assert.equal(headerValue(first.response!.headers, 'www-authenticate'), 'Bearer realm="orders"');
    assert.equal(headerValue(first.response!.headers, 'x-session-count'), '4');
    const { access_token: masked, hook, ...ordinary } = json(first, 'response');
    assert.deepEqual(ordinary, ordinaryResponse, 'no ordinary field of the answer changed, booleans and numbers included');
    assert.equal(masked, '[redacted]');
    assert.equal(hook, 'notify with [redacted]', 'a Slack token is masked by value inside an ordinary field');
    assert.equal(first.redactionMode, 'mask');
    for (const entry of ['request.query:key', 'request.query:sig', 'request.query:AWSAccessKeyId', 'request.header:x-access-key', 'request.header:x-client-key', 'request.header:x-debug-context']) {
      assert.ok(first.redactions.includes(entry), `${entry} is listed`);
    }

    const order = json(byId('json'), 'request');
    assert.equal(order.author, 'ann');
    assert.equal(order.quantity, 3);
    assert.equal(order.gift, false);
    assert.equal(order.app.name, 'shop');
    assert.equal(order.grants[0].scope, 'read');
    assert.equal(order.note, 'signed [redacted] ok');
    assert.equal(order.repo, 'https://[redacted]@git.example.com/shop.git');
    assert.ok(byId('json').redactions.includes('request.body:$.card'), 'a card number sent as a JSON number is redacted');

    assert.equal(json(byId('text-json'), 'request').keep, 'text-json-visible');
    assert.equal(json(byId('gzip'), 'request').keep, 'gzip-visible');
    assert.equal(byId('untyped-form').request.body.toString(), 'user=bob&password=%5Bredacted%5D');
    assert.ok(byId('multipart').request.body.toString().includes('name="user"\r\n\r\nann\r\n'), 'ordinary parts are kept');
    assert.ok(byId('multipart').request.body.toString().includes('region=eu'), 'ordinary lines of a file part are kept');
    assert.equal(byId('text').request.body.toString(), 'pay with [redacted] please\napi_key=[redacted]\nthanks');

    const deep = byId('deep');
    assert.ok(deep.redactions.includes('request.body:scanned-as-text(too-deep)'), 'the reason is recorded');
    assert.equal(deep.request.body.toString(), deepJson(10_000, '{"password":"[redacted]"}'), 'the deep body is kept, its secret masked');

    const broken = byId('broken-json');
    assert.equal(broken.request.body.toString(), '{"note": "charge with [redacted]", ', 'an unparseable body is kept, not emptied');
    assert.ok(broken.redactions.includes('request.body:unparseable(json)'));

    assert.deepEqual(json(byId('echo-url'), 'response'), { path: '/echo-url?token=[redacted]&page=2', ok: true }, 'the echoed URL is redacted');
    assert.ok(byId('echo-url').redactions.includes('response.body:$.path'));
    assert.equal(headerValue(byId('redirect').response!.headers, 'location'), '/next?token=[redacted]&page=2', 'the Location echo is redacted');
    assert.deepEqual(json(byId('echo-header'), 'response'), { seen: 'Bearer [redacted]', ok: true }, 'a body repeating a header is redacted');
    assert.equal(byId('text-token').response!.body.toString(), 'access_token=%5Bredacted%5D&expires_in=3600&scope=read', 'a text/plain answer shaped as a form is read as one');
  } finally {
    await proxy.close();
    await stable.close();
    await log.close();
    await rm(dir, { recursive: true, force: true });
  }
});
