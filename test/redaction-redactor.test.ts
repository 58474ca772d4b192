import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { Capture, Header, HttpRequest, HttpResponse } from '../shared/records/types.js';
import { headerValue } from '../shared/records/types.js';
import { hashKeyId, resolveRedaction, type RedactionOptions } from '../shared/redaction/redaction-options.js';
import { MAX_JSON_DEPTH, originalRequest, Redactor } from '../shared/redaction/redactor.js';
import { generateSealKeys, openingKeyFromPem, unsealRequest } from '../shared/redaction/seal.js';
import { runCli } from './helpers/run-cli.js';
import { sampleCapture } from './helpers/sample-records.js';

const headers = (o: Record<string, string>): Header[] => Object.entries(o).map(([name, value]) => ({ name, value }));

function request(overrides: Partial<HttpRequest> = {}): HttpRequest {
  return { method: 'POST', path: '/orders', query: '', headers: [], body: Buffer.alloc(0), size: 0, truncated: false, sha256: null, ...overrides };
}

function response(overrides: Partial<HttpResponse> = {}): HttpResponse {
  return { status: 200, headers: [], body: Buffer.alloc(0), size: 0, truncated: false, sha256: null, ...overrides };
}

function capture(req: HttpRequest, res: HttpResponse | null = null): Capture {
  return sampleCapture({ request: req, response: res, redactions: [], redactionMode: null, sealed: null });
}

/** A deep copy that keeps bodies Buffers (structuredClone turns them into Uint8Arrays). */
function copy<T extends HttpRequest | HttpResponse>(part: T): T {
  return { ...part, headers: part.headers.map((h) => ({ ...h })), body: Buffer.from(part.body) };
}

const redactor = (options: RedactionOptions) => new Redactor(resolveRedaction(options));

describe('Redactor', () => {
  test('seal mode: the record is masked and the sealed originals give back the request stable received', async () => {
    const keys = generateSealKeys();
    const body = gzipSync(JSON.stringify({ user: 'ann', password: 'pw-sealed-1234' }));
    const original = request({
      query: 'token=tok-sealed-5678&page=2',
      headers: headers({ authorization: 'Bearer abc-sealed-91011', 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': String(body.length) }),
      body,
    });
    const sealedCapture = await redactor({ mode: 'seal', sealPublicKey: keys.publicKeyPem }).redact(capture(copy(original)));
    assert.equal(sealedCapture.redactionMode, 'seal');
    assert.equal(headerValue(sealedCapture.request.headers, 'authorization'), 'Bearer [redacted]');
    assert.equal(sealedCapture.request.query, 'token=%5Bredacted%5D&page=2');
    assert.deepEqual(JSON.parse(sealedCapture.request.body.toString()), { user: 'ann', password: '[redacted]' });
    assert.ok(sealedCapture.sealed, 'the originals are sealed');
    assert.equal(sealedCapture.sealed.keyId, keys.keyId);
    const opened = originalRequest(sealedCapture.request, unsealRequest(openingKeyFromPem(keys.privateKeyPem), sealedCapture.sealed));
    assert.deepEqual(opened.headers, original.headers, 'headers as received, the body encoding and length included');
    assert.equal(opened.query, original.query);
    assert.deepEqual(opened.body, original.body, 'the original (gzip) bytes');

    const nothing = await redactor({ mode: 'seal', sealPublicKey: keys.publicKeyPem }).redact(capture(request({ query: 'page=2' })));
    assert.equal(nothing.sealed, null, 'nothing is sealed when nothing changed');
  });

  test('secrets in the path: a matrix session id and a token segment are masked, sealed, and named without values', async () => {
    const keys = generateSealKeys();
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk';
    const original = request({ method: 'GET', path: `/shop/cart;jsessionid=A1B2C3D4E5F6A7B8C9D0;lang=en/reset/${jwt}/items/42` });
    const redacted = await redactor({ mode: 'seal', sealPublicKey: keys.publicKeyPem }).redact(capture(copy(original)));
    assert.equal(redacted.request.path, '/shop/cart;jsessionid=%5Bredacted%5D;lang=en/reset/%5Bredacted%5D/items/42');
    assert.deepEqual([...redacted.redactions].sort(), ['request.path:;jsessionid', 'request.path:segment(jwt)']);
    assert.equal(JSON.stringify(redacted).includes('A1B2C3D4E5F6'), false, 'the session id reached the record');
    const opened = originalRequest(redacted.request, unsealRequest(openingKeyFromPem(keys.privateKeyPem), redacted.sealed!));
    assert.equal(opened.path, original.path, 'the replay holding the key sends the path stable received');
    // A path without secrets is left as it is, byte for byte: ids, versions and plain matrix parameters.
    const plain = await redactor({}).redact(capture(request({ method: 'GET', path: '/v2/users/42;format=json/orders/ord_8F3k2' })));
    assert.equal(plain.request.path, '/v2/users/42;format=json/orders/ord_8F3k2');
    assert.deepEqual(plain.redactions, []);
  });

  test('the redaction mode is recorded in every mode, and null when redaction is off', async () => {
    const keys = generateSealKeys();
    const modes: RedactionOptions[] = [{ mode: 'mask' }, { mode: 'drop' }, { mode: 'hash', hashKey: 'k' }, { mode: 'seal', sealPublicKey: keys.publicKeyPem }];
    for (const options of modes) {
      const recorded = options.mode === 'hash' ? `hash:${hashKeyId('k')}` : options.mode;
      assert.equal((await redactor(options).redact(capture(request()))).redactionMode, recorded, 'hash mode names its key, never the key itself');
    }
    assert.notEqual(hashKeyId('k'), hashKeyId('k2'));
    assert.equal((await redactor({ enabled: false }).redact(capture(request()))).redactionMode, null);
  });

  test("the shadow's answer is redacted like stable's: same rules, same key, echoes of the request included", async () => {
    const sent = request({ query: 'token=tok-shadow-4242&page=2', headers: headers({ authorization: 'Bearer bearer-shadow-777' }) });
    const answer = (token: string) =>
      response({
        headers: headers({ 'set-cookie': 'session=cookie-shadow-3131; Path=/', 'content-type': 'application/json', location: '/next?token=tok-shadow-4242' }),
        body: Buffer.from(JSON.stringify({ access_token: token, url: '/orders?token=tok-shadow-4242&page=2', auth: 'Bearer bearer-shadow-777', tokens_used: 5 })),
      });
    const hashing = redactor({ mode: 'hash', hashKey: 'shared-key' });
    const shadow = answer('same-secret-5150');
    const before = copy(shadow);
    const { response: redacted, redactions } = await hashing.redactResponse(shadow, sent);
    assert.deepEqual(shadow, before, 'the arguments are not changed');
    assert.ok(redactions.every((entry) => entry.startsWith('response.')));
    for (const entry of ['response.header:set-cookie', 'response.header:location', 'response.body:$.access_token', 'response.body:$.url', 'response.body:$.auth']) {
      assert.ok(redactions.includes(entry), `${entry} listed`);
    }
    const text = JSON.stringify(redacted);
    for (const secret of ['cookie-shadow-3131', 'tok-shadow-4242', 'bearer-shadow-777', 'same-secret-5150']) assert.ok(!text.includes(secret), `${secret} left`);
    const fields = JSON.parse(redacted.body.toString());
    assert.equal(fields.tokens_used, 5);

    const stable = await hashing.redact(capture(copy(sent), answer('same-secret-5150')));
    assert.equal(JSON.parse(stable.response!.body.toString()).access_token, fields.access_token, 'equal secrets hash alike on both sides');
    const other = await hashing.redactResponse(answer('other-secret-6160'), sent);
    assert.notEqual(JSON.parse(other.response.body.toString()).access_token, fields.access_token, 'different secrets differ');
  });

  test('a secret name holding a boolean, a number or null carries no secret and is left as it is', async () => {
    const body = { password: true, token: 42, secret: null, api_key: 'ak-live-value-1' };
    const out = await redactor({}).redact(capture(request({ headers: headers({ 'content-type': 'application/json' }), body: Buffer.from(JSON.stringify(body)) })));
    assert.deepEqual(JSON.parse(out.request.body.toString()), { password: true, token: 42, secret: null, api_key: '[redacted]' });
    assert.deepEqual(out.redactions, ['request.body:$.api_key']);
  });

  test('a cut text body is searched on its kept part and kept; a cut JSON body is not kept', async () => {
    const text = await redactor({}).redact(
      capture(request({ headers: headers({ 'content-type': 'text/plain' }), body: Buffer.from('key AKIAIOSFODNN7EXAMPLE and more'), truncated: true })),
    );
    assert.equal(text.request.body.toString(), 'key [redacted] and more');
    const json = await redactor({}).redact(capture(request({ headers: headers({ 'content-type': 'application/json' }), body: Buffer.from('{"a": "b'), truncated: true })));
    assert.equal(json.request.body.length, 0);
    assert.deepEqual(json.redactions, ['request.body:not-scanned(truncated)']);
  });

  test(`JSON deeper than ${MAX_JSON_DEPTH} levels is scanned as text, not dropped`, async () => {
    const deep = `${'['.repeat(50_000)}"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl"${']'.repeat(50_000)}`;
    const out = await redactor({}).redact(capture(request({ headers: headers({ 'content-type': 'application/json' }), body: Buffer.from(deep) })));
    assert.ok(out.redactions.includes('request.body:scanned-as-text(too-deep)'));
    assert.ok(out.redactions.includes('request.body:text(jwt)'));
    assert.equal(out.request.body.toString(), `${'['.repeat(50_000)}"[redacted]"${']'.repeat(50_000)}`);
  });
});

describe('capture CLI: seal flags', () => {
  test('seal without a key, a key for another mode, an unreadable or wrong key: one line and exit code 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'seal-flags-'));
    try {
      const publicKey = join(dir, 'seal.public.pem');
      await writeFile(publicKey, generateSealKeys().publicKeyPem);
      const ed25519 = join(dir, 'ed25519.pem');
      await writeFile(ed25519, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
      const base = ['capture', '--upstream', 'http://127.0.0.1:9', '--listen', '127.0.0.1:0', '--store', join(dir, 'log')];
      const cases: Array<[string[], RegExp]> = [
        [['--redact-mode', 'seal'], /redaction mode "seal" needs the replay worker's public key: --seal-public-key FILE/],
        [['--seal-public-key', publicKey], /a seal public key was given, but the redaction mode is "mask"/],
        [['--redact-mode', 'seal', '--seal-public-key', join(dir, 'missing.pem')], /cannot read --seal-public-key .*missing\.pem: ENOENT/],
        [['--redact-mode', 'seal', '--seal-public-key', ed25519], /the seal public key is not usable: .*X25519/],
      ];
      for (const [flags, message] of cases) {
        const run = await runCli([...base, ...flags]);
        assert.equal(run.code, 2, `${flags.join(' ')}: ${run.stderr}`);
        assert.match(run.stderr, message);
        assert.equal(run.stderr.trim().split('\n').length, 1, `one line: ${run.stderr}`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
