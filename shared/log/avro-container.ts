import avro from 'avsc';
import { randomBytes } from 'node:crypto';
import { readLong, skipValue } from './avro-bounds.js';

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
export const SYNC_BYTES = SYNC_SIZE;

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

/**
 * Decodes a header from the start of `buf`; undefined when `buf` does not hold all of it yet.
 * Throws when the bytes are not an Avro container header. Bounded by `buf` whatever it holds.
 */
export function decodeHeader(buf: Buffer): ContainerHeader | undefined {
  if (buf.length < MAGIC.length) return undefined;
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error('not an Avro object container file');
  const end = skipValue(headerType, buf, 0);
  if (end < 0) return undefined;
  const { value, offset } = headerType.decode(buf, 0);
  if (offset !== end) throw new Error('damaged container header');
  const header = value as { meta: Record<string, Buffer>; sync: Buffer };
  const codec = header.meta['avro.codec']?.toString() ?? 'null';
  if (codec !== 'null') throw new Error(`unsupported Avro codec "${codec}"`);
  if (!header.meta['avro.schema']) throw new Error('no schema in the container header');
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
  const count = readLong(buf, 0, buf.length);
  if (count.next < 0) return undefined;
  const size = readLong(buf, count.next, buf.length);
  if (size.next < 0) return undefined;
  return { count: count.value, dataLength: size.value, prefixLength: size.next };
}

/** Whether a prefix can belong to a block of records (each record takes at least a byte). */
export const plausiblePrefix = (prefix: BlockPrefix): boolean =>
  Number.isSafeInteger(prefix.count) && Number.isSafeInteger(prefix.dataLength) && prefix.count > 0 && prefix.dataLength >= prefix.count;

export const blockLength = (prefix: BlockPrefix): number => prefix.prefixLength + prefix.dataLength + SYNC_SIZE;

/** Whether the block ends with this segment's sync marker. */
export const endsWithSync = (block: Buffer, sync: Buffer): boolean => block.subarray(block.length - SYNC_SIZE).equals(sync);

/**
 * The records of one block, decoded one at a time as they are taken: a reader never holds a whole
 * decoded block (thousands of objects surviving young-generation collections) nor decodes one in a
 * single synchronous stretch of tens of ms. With `check` (the writer's type), each record's bytes
 * are first walked within bounds, for bytes that may be damaged. Throws when a record runs past
 * the end of its block.
 */
export function* blockRecords<T>(block: Buffer, prefix: BlockPrefix, type: avro.Type, resolver?: avro.Resolver, check?: avro.Type): Generator<T> {
  const end = prefix.prefixLength + prefix.dataLength;
  let pos = prefix.prefixLength;
  for (let i = 0; i < prefix.count; i++) {
    if (check) {
      const next = skipValue(check, block, pos, end);
      if (next < 0) throw new Error('record runs past the end of its block');
    }
    const { value, offset } = type.decode(block, pos, resolver);
    if (offset < 0 || offset > end) throw new Error('record runs past the end of its block');
    pos = offset;
    yield value as T;
  }
  if (check && pos !== end) throw new Error('bytes left over after the last record of the block');
}
