import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import avro from 'avsc';
import { ShadowtapError } from '../shared/errors.js';
import { captureCodec } from '../shared/records/codec.js';
import type { Capture } from '../shared/records/types.js';
import { decodeFramed, encodeFramed, RegistryCodec, SchemaRegistryClient } from '../shared/records/schema-registry.js';
import { startFakeSchemaRegistry, type FakeSchemaRegistry } from './helpers/fake-schema-registry.js';
import { sampleCapture } from './helpers/sample-records.js';

let fake: FakeSchemaRegistry;
let url: string;
let schemas: string[];
let requests: string[];
/** A record as Avro decodes it (its own record classes), to compare with what the codec returns. */
const decoded = (record: Capture) => captureCodec.decode(captureCodec.encode(record));
before(async () => {
  fake = await startFakeSchemaRegistry();
  ({ url, schemas, requests } = fake);
});
after(() => fake.close());

test('records are framed with magic byte 0 and the registered schema id, registered once per schema', async () => {
  requests.length = 0;
  const codec = new RegistryCodec(new SchemaRegistryClient({ url }), 'shadowtap.captures', captureCodec);
  const record = sampleCapture({ id: 'r1' });
  const [first, second] = await Promise.all([codec.encode(record), codec.encode(sampleCapture({ id: 'r2' }))]);
  const id = schemas.indexOf(JSON.stringify(captureCodec.type.schema())) + 1;
  assert.ok(id > 0);
  assert.equal(first![0], 0);
  assert.equal(first!.readUInt32BE(1), id);
  assert.deepEqual(first!.subarray(5), captureCodec.encode(record));
  assert.equal(second!.readUInt32BE(1), id);
  assert.deepEqual(requests, ['POST /subjects/shadowtap.captures-value/versions']);
  assert.deepEqual(await codec.decode(first!), decoded(record), 'the writer schema is known from registration, no lookup needed');
  assert.equal(requests.length, 1);
});

test('a reader that did not register looks the writer schema up by id, once, and resolves it into the current shape', async () => {
  // An evolved writer: the current capture schema plus a field this reader does not know.
  const current = captureCodec.type.schema() as { fields: unknown[] };
  const writer = avro.Type.forSchema({ ...current, fields: [...current.fields, { name: 'zone', type: 'string', default: '' }] } as avro.Schema);
  const writerId = await new SchemaRegistryClient({ url }).register('shadowtap.captures-value', writer);
  const record = sampleCapture({ id: 'evolved' });
  const framed = encodeFramed(writerId, writer.toBuffer({ ...record, zone: 'eu-west-1' }));

  requests.length = 0;
  const reader = new RegistryCodec(new SchemaRegistryClient({ url }), 'shadowtap.captures', captureCodec);
  assert.deepEqual(await reader.decode(framed), decoded(record));
  assert.deepEqual(await reader.decode(framed), decoded(record));
  assert.deepEqual(requests, [`GET /schemas/ids/${writerId}`]);
});

test('unframed bytes, a refusing registry and an unreachable one are told apart', async () => {
  assert.throws(() => decodeFramed(captureCodec.encode(sampleCapture())), (e: unknown) => e instanceof ShadowtapError && e.code === 'ST_BAD_RECORD');
  assert.throws(() => decodeFramed(Buffer.from([0, 0, 1])), (e: unknown) => e instanceof ShadowtapError && e.code === 'ST_BAD_RECORD');

  const locked = new RegistryCodec(new SchemaRegistryClient({ url }), 'locked-topic', captureCodec);
  await assert.rejects(locked.encode(sampleCapture()), (e: unknown) => {
    assert.ok(e instanceof ShadowtapError);
    assert.equal(e.code, 'ST_CONFIG');
    assert.match(e.message, /failed with 409: Schema being registered is incompatible/);
    return true;
  });

  const unknownId = new RegistryCodec(new SchemaRegistryClient({ url }), 'shadowtap.captures', captureCodec);
  await assert.rejects(unknownId.decode(encodeFramed(9999, Buffer.alloc(0))), /failed with 404: Schema not found/);

  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
  await new Promise((resolve) => closed.close(resolve));
  await assert.rejects(new SchemaRegistryClient({ url: deadUrl }).register('x-value', captureCodec.type), (e: unknown) => {
    assert.ok(e instanceof ShadowtapError);
    assert.equal(e.code, 'ST_LOG_UNREACHABLE');
    assert.equal(e.retriable, true);
    return true;
  });
});
