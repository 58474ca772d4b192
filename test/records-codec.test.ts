import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { captureCodec, resultCodec, type Codec } from '../shared/records/codec.js';
import { packageRoot } from '../shared/package-root.js';
import { sampleCapture, sampleResult } from './helpers/sample-records.js';

const goldenRoot = join(packageRoot(), 'test', 'fixtures', 'golden');

/** JSON form used by the golden files: bytes as {base64}. */
function toJson(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (_key, x) =>
      x && x.type === 'Buffer' && Array.isArray(x.data) ? { base64: Buffer.from(x.data).toString('base64') } : x,
    ),
  );
}

test('a capture survives an encode/decode round trip with every field', () => {
  const capture = sampleCapture();
  const decoded = captureCodec.decode(captureCodec.encode(capture));
  assert.deepEqual(toJson(decoded), toJson(capture));
  assert.deepEqual(
    decoded.request.headers.filter((h) => h.name === 'x-tag').map((h) => h.value),
    ['one', 'two'],
    'duplicate headers keep their order',
  );
});

test('records larger than any encoded before, and encodeInto a buffer too small, still come out whole', () => {
  const small = sampleCapture();
  const large = sampleCapture({ response: { ...small.response!, body: Buffer.alloc(200_000, 7), size: 200_000 } });
  for (const capture of [small, large, small]) assert.deepEqual(toJson(captureCodec.decode(captureCodec.encode(capture))), toJson(capture));
  const encoded = captureCodec.encode(large);
  const tooSmall = Buffer.alloc(1000);
  const end = captureCodec.encodeInto(large, tooSmall, 10);
  assert.ok(end < 0 && tooSmall.length - end >= encoded.length + 10, `encodeInto says how many bytes are missing (got ${end})`);
  const roomy = Buffer.alloc(encoded.length + 10);
  assert.equal(captureCodec.encodeInto(large, roomy, 10), encoded.length + 10);
  assert.deepEqual(roomy.subarray(10), encoded);
});

test('a result survives an encode/decode round trip, with and without a response', () => {
  for (const result of [sampleResult(), sampleResult({ outcome: 'skipped', skipReason: 'unsafe-method', response: null, sentTime: null })]) {
    assert.deepEqual(toJson(resultCodec.decode(resultCodec.encode(result))), toJson(result));
  }
});

test('records written by every shipped schema version still decode (golden fixtures)', () => {
  const codecs: Record<string, Codec<unknown>> = { capture: captureCodec, result: resultCodec };
  let checked = 0;
  for (const versionDir of readdirSync(goldenRoot)) {
    const version = Number(versionDir.slice(1));
    for (const file of readdirSync(join(goldenRoot, versionDir)).filter((f) => f.endsWith('.bin'))) {
      const codec = codecs[file.startsWith('capture') ? 'capture' : 'result']!;
      const bytes = readFileSync(join(goldenRoot, versionDir, file));
      const expected = JSON.parse(readFileSync(join(goldenRoot, versionDir, file.replace(/\.bin$/, '.json')), 'utf8'));
      assert.deepEqual(toJson(codec.decode(bytes, version)), expected, `${versionDir}/${file}`);
      checked++;
    }
  }
  assert.ok(checked >= 4, `expected golden fixtures, found ${checked}`);
});

test('bytes that are not a record are rejected, not silently decoded', () => {
  assert.throws(() => captureCodec.decode(Buffer.from('definitely not avro')));
});
