import avro from 'avsc';
import { randomBytes } from 'node:crypto';

/**
 * The pieces of the Avro Object Container File format the file log needs: a header written once
 * per segment and one block per append. Written by hand rather than through avsc's streams so a
 * reader can tail a segment while another process is still appending to it.
 */
export const MAGIC = Buffer.from('Obj\x01', 'latin1');
const SYNC_SIZE = 16;

const headerType = avro.Type.forSchema({
  type: 'record',
  name: 'org.apache.avro.file.Header',
  fields: [
    { name: 'magic', type: { type: 'fixed', name: 'Magic', size: 4 } },
    { name: 'meta', type: { type: 'map', values: 'bytes' } },
    { name: 'sync', type: { type: 'fixed', name: 'Sync', size: SYNC_SIZE } },
  ],
});
const longType = avro.Type.forSchema('long');

export interface ContainerHeader {
  meta: Record<string, Buffer>;
  sync: Buffer;
  /** Bytes the header takes; the first block starts here. */
  length: number;
}

export function encodeHeader(schema: object, extraMeta: Record<string, string> = {}): { bytes: Buffer; sync: Buffer } {
  const sync = randomBytes(SYNC_SIZE);
  const meta: Record<string, Buffer> = {
    'avro.schema': Buffer.from(JSON.stringify(schema)),
    'avro.codec': Buffer.from('null'),
  };
  for (const [key, value] of Object.entries(extraMeta)) meta[key] = Buffer.from(value);
  return { bytes: headerType.toBuffer({ magic: MAGIC, meta, sync }), sync };
}

/** Decodes a header from the start of `buf`; undefined when `buf` does not hold all of it yet. */
export function decodeHeader(buf: Buffer): ContainerHeader | undefined {
  if (buf.length < MAGIC.length) return undefined;
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error('not an Avro object container file');
  const { value, offset } = headerType.decode(buf, 0);
  if (offset < 0) return undefined;
  const header = value as { meta: Record<string, Buffer>; sync: Buffer };
  const codec = header.meta['avro.codec']?.toString() ?? 'null';
  if (codec !== 'null') throw new Error(`unsupported Avro codec "${codec}"`);
  return { meta: header.meta, sync: header.sync, length: offset };
}

export function encodeBlock(records: Buffer[], sync: Buffer): Buffer {
  const data = Buffer.concat(records);
  return Buffer.concat([longType.toBuffer(records.length), longType.toBuffer(data.length), data, sync]);
}

export interface BlockPrefix {
  count: number;
  dataLength: number;
  /** Bytes of the count and size fields. */
  prefixLength: number;
}

/** Reads a block's count and size; undefined when `buf` is too short to hold them. */
export function decodeBlockPrefix(buf: Buffer): BlockPrefix | undefined {
  const count = longType.decode(buf, 0);
  if (count.offset < 0) return undefined;
  const size = longType.decode(buf, count.offset);
  if (size.offset < 0) return undefined;
  return { count: count.value as number, dataLength: size.value as number, prefixLength: size.offset };
}

export const blockLength = (prefix: BlockPrefix): number => prefix.prefixLength + prefix.dataLength + SYNC_SIZE;

/**
 * The records of one block, decoded one at a time as they are taken: a reader never holds a whole
 * decoded block (thousands of objects surviving young-generation collections) nor decodes one in a
 * single synchronous stretch of tens of ms. Throws on a wrong sync marker before the first record,
 * and when a record runs past the end of its block.
 */
export function* blockRecords<T>(block: Buffer, prefix: BlockPrefix, sync: Buffer, type: avro.Type, resolver?: avro.Resolver): Generator<T> {
  const end = prefix.prefixLength + prefix.dataLength;
  if (!block.subarray(end, end + SYNC_SIZE).equals(sync)) throw new Error('sync marker mismatch');
  let pos = prefix.prefixLength;
  for (let i = 0; i < prefix.count; i++) {
    const { value, offset } = type.decode(block, pos, resolver);
    if (offset < 0 || offset > end) throw new Error('record runs past the end of its block');
    pos = offset;
    yield value as T;
  }
}
