import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { IHeaders } from 'kafkajs';
import { configError } from '../errors.js';
import { crc32c } from './crc32c.js';

/**
 * A lean fetch: kafkajs 2.2 sends the Fetch request (its connection, negotiated version, SASL/SSL,
 * retries of the connection) and its own parse turns partition error codes into its errors; this
 * module only decodes the response bytes. kafkajs's decoder builds an object per record (offset
 * and timestamp as strings through Long, headers through a spread per header, the batch context)
 * and never checks a batch's CRC; here a partition's record set stays bytes, its batches are read
 * in place (CRC32C checked), and a reused cursor walks their records, the key, value and header
 * bytes being views of the response.
 */
const require = createRequire(import.meta.url);
const gunzip = promisify(zlib.gunzip);
/**
 * Output chunk of a batch's gunzip. zlib's default (16 KiB) hands a batch's records back in one
 * thread-pool round trip and callback per 16 KiB, then copies them together: a 1 MB batch of
 * small captures took 3-5 ms of CPU that way, 0.9 ms with 256 KiB chunks (as much as a
 * synchronous gunzip, and still off the event loop).
 */
const gunzipChunkBytes = 256 * 1024;

type ProtocolRequest = { request: { apiVersion: number }; response: { decode(payload: Buffer): Promise<unknown>; parse(data: unknown): Promise<unknown> }; requestTimeout?: number };
type FetchProtocol = (fields: FetchFields) => ProtocolRequest;
type Codec = { decompress(buffer: Buffer): Promise<Buffer> };

const fetchApiKey = 1;
const fetchRequests = require('kafkajs/src/protocol/requests/fetch/index.js') as unknown;
const { failure: isFailure, createErrorFromCode } = require('kafkajs/src/protocol/error.js') as {
  failure(code: number): boolean;
  createErrorFromCode(code: number): Error;
};
const { CompressionCodecs } = require('kafkajs') as { CompressionCodecs: Record<number, (() => Codec) | undefined> };
const brokerPrototype = (require('kafkajs/src/broker/index.js') as { prototype: object }).prototype;
const sendRequestKey = Object.getOwnPropertySymbols(brokerPrototype).find((symbol) => symbol.description === 'private:Broker:sendRequest');
/** Fetch response versions this decoder reads: those of brokers 0.11 and later (record batches, magic 2) that kafkajs 2.2 speaks. */
const versions = { min: 4, max: 11 };

export interface FetchFields {
  replicaId: number;
  isolationLevel: number;
  maxWaitTime: number;
  minBytes: number;
  maxBytes: number;
  topics: Array<{ topic: string; partitions: Array<{ partition: number; fetchOffset: string; maxBytes: number }> }>;
}

/** What of a kafkajs broker the lean fetch uses: its request lookup (the negotiated version) and its private send. */
export interface FetchBroker {
  lookupRequest(apiKey: number, requests: unknown): FetchProtocol;
}

/** One partition of a fetch response, its record set not decoded. */
export interface FetchedRecords {
  partition: number;
  errorCode: number;
  highWatermark: number;
  abortedTransactions: Array<{ producerId: bigint; firstOffset: number }>;
  /** Record batches as the broker sent them; the last one may be cut short by the fetch's byte limit. */
  records: Buffer;
}

export async function leanFetch(broker: FetchBroker, fields: FetchFields): Promise<FetchedRecords[]> {
  const built = broker.lookupRequest(fetchApiKey, fetchRequests)(fields);
  const version = built.request.apiVersion;
  if (version < versions.min || version > versions.max) {
    throw new Error(`the broker and kafkajs agree on Fetch v${version}; shadowtap reads v${versions.min} to v${versions.max} (Kafka 0.11 or later)`);
  }
  const send = sendRequestKey && (broker as unknown as Record<symbol, (request: ProtocolRequest) => Promise<unknown>>)[sendRequestKey];
  if (typeof send !== 'function') throw new Error('this kafkajs has no broker send where kafkajs 2.2 has it; install kafkajs 2.2');
  const response = { decode: async (payload: Buffer) => decodeFetchResponse(payload, version), parse: built.response.parse };
  const { responses } = (await send.call(broker, { ...built, response })) as FetchResponse;
  return responses.flatMap(({ partitions }) => partitions);
}

interface FetchResponse {
  throttleTime: number;
  clientSideThrottleTime: number;
  responses: Array<{ topicName: string; partitions: FetchedRecords[] }>;
}

/** Fetch response v4 to v11, in the shape kafkajs's parse checks (partition error codes) and its connection throttles by. */
export function decodeFetchResponse(payload: Buffer, version: number): FetchResponse {
  const reader = new Reader(payload);
  const throttle = reader.int32();
  if (version >= 7) {
    const errorCode = reader.int16();
    reader.int32(); // fetch session id: shadowtap fetches without sessions
    if (isFailure(errorCode)) throw createErrorFromCode(errorCode);
  }
  const responses: FetchResponse['responses'] = [];
  for (let topics = reader.int32(); topics > 0; topics--) {
    const topicName = reader.string();
    const partitions: FetchedRecords[] = [];
    for (let count = reader.int32(); count > 0; count--) {
      const partition = reader.int32();
      const errorCode = reader.int16();
      const highWatermark = reader.int64();
      reader.skip(8); // last stable offset
      if (version >= 5) reader.skip(8); // log start offset
      const abortedTransactions: FetchedRecords['abortedTransactions'] = [];
      for (let aborted = reader.int32(); aborted > 0; aborted--) {
        abortedTransactions.push({ producerId: reader.bigInt64(), firstOffset: reader.int64() });
      }
      if (version >= 11) reader.skip(4); // preferred read replica
      const size = reader.int32();
      const records = size > 0 ? reader.bytes(size) : emptyBuffer;
      partitions.push({ partition, errorCode, highWatermark, abortedTransactions, records });
    }
    responses.push({ topicName, partitions });
  }
  // Before v8 the broker has throttled already; from v8 on the client is to wait (KIP-219).
  return version >= 8 ? { throttleTime: 0, clientSideThrottleTime: throttle, responses } : { throttleTime: throttle, clientSideThrottleTime: 0, responses };
}

const emptyBuffer = Buffer.alloc(0);
/** Batch header bytes: first offset 8, length 4, leader epoch 4, magic 1, crc 4, attributes 2, last offset delta 4, timestamps 16, producer id 8, epoch 2, sequence 4, record count 4. */
const batchHeaderBytes = 61;
const crcStart = 21;
/** Bits of a batch's attributes. */
const attribute = { compression: 0x07, logAppendTime: 0x08, transactional: 0x10, control: 0x20 } as const;

/** One record batch of a fetched record set, its header read, its records not. */
export interface RecordBatch {
  firstOffset: number;
  /** The offset after the batch's last record (records of it may have been compacted away). */
  nextOffset: number;
  /** The batch as sent: a view of the fetch response. */
  bytes: Buffer;
  attributes: number;
  firstTimestamp: number;
  maxTimestamp: number;
  producerId: bigint;
  recordCount: number;
  /** Why the batch cannot be read (a failed CRC32C check, an unknown format); its records are then not handed over. */
  damage?: string;
  /** A control batch (transaction marker) or a batch of an aborted transaction: read past, never handed over. */
  skipped: boolean;
}

/**
 * The complete batches of a record set (a last one cut short by the fetch's size limit is left
 * for the next fetch), each checked against its CRC32C, with transaction markers and the batches
 * of aborted transactions marked skipped, as a read_committed consumer reads them.
 */
export function recordBatches(fetched: Pick<FetchedRecords, 'records' | 'abortedTransactions'>): RecordBatch[] {
  const { records } = fetched;
  const batches: RecordBatch[] = [];
  const aborted = [...fetched.abortedTransactions].sort((a, b) => a.firstOffset - b.firstOffset);
  const abortedProducers = new Set<bigint>();
  let at = 0;
  while (at + batchHeaderBytes <= records.length) {
    const firstOffset = readInt64(records, at);
    const length = records.readInt32BE(at + 8);
    // The length is outside the CRC: one too short to hold a header leaves no way to find the next batch.
    if (length < batchHeaderBytes - 12) throw new Error(`the record batch at offset ${firstOffset} says it is ${length} bytes long, less than its header`);
    const end = at + 12 + length;
    if (end > records.length) break;
    const bytes = records.subarray(at, end);
    at = end;
    const magic = bytes.readInt8(16);
    const attributes = bytes.readInt16BE(21);
    const lastOffsetDelta = bytes.readInt32BE(23);
    const batch: RecordBatch = {
      firstOffset,
      nextOffset: firstOffset + Math.max(0, lastOffsetDelta) + 1,
      bytes,
      attributes,
      firstTimestamp: readInt64(bytes, 27),
      maxTimestamp: readInt64(bytes, 35),
      producerId: bytes.readBigInt64BE(43),
      recordCount: bytes.readInt32BE(57),
      skipped: false,
    };
    batches.push(batch);
    if (magic !== 2) {
      batch.damage = `it is in message format v${magic}, written by a client older than Kafka 0.11; shadowtap reads record batches (v2) only`;
      continue;
    }
    const stored = bytes.readUInt32BE(17);
    const computed = crc32c(bytes.subarray(crcStart)) >>> 0;
    if (stored !== computed) {
      batch.damage = `it fails its CRC32C check (stored ${stored.toString(16)}, computed ${computed.toString(16)})`;
      continue;
    }
    // Java's consumer rule: a transaction whose first offset is at or before this batch's last one is open from here.
    while (aborted.length > 0 && aborted[0]!.firstOffset < batch.nextOffset) abortedProducers.add(aborted.shift()!.producerId);
    if ((attributes & attribute.control) !== 0) {
      batch.skipped = true;
      if (isAbortMarker(batch)) abortedProducers.delete(batch.producerId);
    } else if ((attributes & attribute.transactional) !== 0 && abortedProducers.has(batch.producerId)) {
      batch.skipped = true;
    }
  }
  return batches;
}

/** A control batch's one record has the key `version int16, type int16`; type 0 ends a transaction by aborting it. */
function isAbortMarker(batch: RecordBatch): boolean {
  const cursor = new RecordCursor(batch, batch.bytes.subarray(batchHeaderBytes));
  return cursor.next() && cursor.key !== null && cursor.key.length >= 4 && cursor.key.readInt16BE(2) === 0;
}

/** The batch's records section, decompressed when the batch is compressed; a ShadowtapError when no codec can decompress it. */
export async function batchRecords(batch: RecordBatch): Promise<Buffer> {
  const section = batch.bytes.subarray(batchHeaderBytes);
  const compression = batch.attributes & attribute.compression;
  if (compression === 0) return section;
  if (compression === 1) return gunzip(section, { chunkSize: gunzipChunkBytes });
  const codec = CompressionCodecs[compression];
  if (!codec) {
    const name = ['none', 'gzip', 'snappy', 'lz4', 'zstd'][compression] ?? `type ${compression}`;
    throw configError(`the record batch at offset ${batch.firstOffset} is ${name}-compressed and no ${name} codec is registered with kafkajs: register one in kafkajs's CompressionCodecs`);
  }
  return codec().decompress(section);
}

/**
 * Walks the records of one batch: one object reused for every record, so a record costs its
 * varints, a view of its value and, only when asked, its key and headers. Headers are decoded
 * once for a run of records with the same header bytes (a producer sends the same headers with
 * every record), into one object whose values are views of a small copy, not of the response.
 */
export class RecordCursor {
  offset = 0;
  timestamp = 0;
  value: Buffer | null = null;
  private at = 0;
  private left: number;
  private keyStart = 0;
  private keyLength = -1;
  private headersStart = 0;
  private headersEnd = 0;
  private decodedHeaders: IHeaders | undefined;
  private lastHeaderBytes: Buffer | undefined;
  private lastHeaders: IHeaders = {};

  constructor(
    private readonly batch: RecordBatch,
    private readonly records: Buffer,
  ) {
    this.left = batch.recordCount;
  }

  /** Moves to the next record; false after the last one. Throws on records that end before their length says. */
  next(): boolean {
    if (this.left <= 0 || this.at >= this.records.length) return false;
    this.left--;
    const { records, batch } = this;
    const length = this.varInt();
    const end = this.at + length;
    if (length < 0 || end > records.length) throw new Error(`a record of the batch at offset ${batch.firstOffset} ends past its batch`);
    this.at += 1; // record attributes: unused
    const timestampDelta = this.varInt();
    this.offset = batch.firstOffset + this.varInt();
    this.timestamp = (batch.attributes & attribute.logAppendTime) !== 0 ? batch.maxTimestamp : batch.firstTimestamp + timestampDelta;
    this.keyLength = this.varInt();
    this.keyStart = this.at;
    if (this.keyLength > 0) this.at += this.keyLength;
    const valueLength = this.varInt();
    this.value = valueLength < 0 ? null : records.subarray(this.at, this.at + valueLength);
    if (valueLength > 0) this.at += valueLength;
    this.headersStart = this.at;
    this.headersEnd = end;
    this.decodedHeaders = undefined;
    this.at = end;
    return true;
  }

  get key(): Buffer | null {
    return this.keyLength < 0 ? null : this.records.subarray(this.keyStart, this.keyStart + this.keyLength);
  }

  get headers(): IHeaders {
    this.decodedHeaders ??= this.readHeaders();
    return this.decodedHeaders;
  }

  /** The record as kafkajs would hand it over, for a dead letter: its bytes copied out of the response. */
  message(): { offset: string; timestamp: string; key: Buffer | null; value: Buffer | null; headers: IHeaders; attributes: number } {
    const copy = (bytes: Buffer | null) => bytes && Buffer.from(bytes);
    return { offset: String(this.offset), timestamp: String(this.timestamp), key: copy(this.key), value: copy(this.value), headers: this.headers, attributes: 0 };
  }

  private readHeaders(): IHeaders {
    const { records, headersStart, headersEnd } = this;
    const last = this.lastHeaderBytes;
    if (last && last.length === headersEnd - headersStart && records.compare(last, 0, last.length, headersStart, headersEnd) === 0) return this.lastHeaders;
    const bytes = Buffer.from(records.subarray(headersStart, headersEnd));
    const headers: IHeaders = {};
    let count = varIntAt(bytes, 0);
    for (let at = varIntEnd; count > 0; count--) {
      const name = varBytesAt(bytes, at)?.toString('utf8') ?? '';
      const value = varBytesAt(bytes, varIntEnd) ?? undefined;
      at = varIntEnd;
      const previous = headers[name];
      if (previous === undefined) headers[name] = value;
      else if (value !== undefined) headers[name] = [...(Array.isArray(previous) ? previous : [previous]), value];
    }
    this.lastHeaderBytes = bytes;
    this.lastHeaders = headers;
    return headers;
  }

  private varInt(): number {
    const value = varIntAt(this.records, this.at);
    this.at = varIntEnd;
    return value;
  }
}

/** Where the last varIntAt ended: one module variable rather than an object a varint. */
let varIntEnd = 0;

/** Kafka's zigzag varint at `at` (sets varIntEnd); throws past the end of `bytes`. */
function varIntAt(bytes: Buffer, at: number): number {
  let zigzag = 0;
  let scale = 1;
  for (;;) {
    const byte = bytes[at++];
    if (byte === undefined) throw new Error('a record ends in the middle of a varint');
    zigzag += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      varIntEnd = at;
      return zigzag % 2 === 0 ? zigzag / 2 : -(zigzag + 1) / 2;
    }
    scale *= 128;
  }
}

/** A varint-length byte string at `at` (sets varIntEnd past it); null for length -1. */
function varBytesAt(bytes: Buffer, at: number): Buffer | null {
  const length = varIntAt(bytes, at);
  if (length < 0) return null;
  const start = varIntEnd;
  if (start + length > bytes.length) throw new Error('record headers end before a header does');
  varIntEnd = start + length;
  return bytes.subarray(start, start + length);
}

/** Big-endian fields of a fetch response. */
class Reader {
  private at = 0;
  constructor(private readonly buffer: Buffer) {}

  int16(): number {
    return this.buffer.readInt16BE(this.take(2));
  }

  int32(): number {
    return this.buffer.readInt32BE(this.take(4));
  }

  int64(): number {
    return readInt64(this.buffer, this.take(8));
  }

  bigInt64(): bigint {
    return this.buffer.readBigInt64BE(this.take(8));
  }

  string(): string {
    const length = Math.max(0, this.int16());
    const at = this.take(length);
    return this.buffer.toString('utf8', at, at + length);
  }

  bytes(length: number): Buffer {
    if (this.at + length > this.buffer.length) throw new Error('the fetch response ends before its record set does');
    const at = this.take(length);
    return this.buffer.subarray(at, at + length);
  }

  skip(length: number): void {
    this.take(length);
  }

  /** The position of the next `length` bytes, moving past them. */
  private take(length: number): number {
    const at = this.at;
    this.at += length;
    return at;
  }
}

/** An int64 offset or timestamp as a number (exact below 2^53: offsets and millisecond times are). */
function readInt64(buffer: Buffer, at: number): number {
  return buffer.readInt32BE(at) * 4294967296 + buffer.readUInt32BE(at + 4);
}
