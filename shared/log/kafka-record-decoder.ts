import type { IHeaders, KafkaMessage } from 'kafkajs';
import { ShadowtapError } from '../errors.js';
import { decodeFramed, type RegistryCodec } from '../records/schema-registry.js';
import type { Position, RecordKind } from './record-log.js';

export const schemaHeader = 'shadowtap-schema';
export const schemaVersionHeader = 'shadowtap-schema-version';
/** `confluent` when the value is in the Schema Registry wire format: magic byte 0, schema id, Avro body. */
export const wireFormatHeader = 'shadowtap-wire-format';

/**
 * Every record of a producer carries the same header values: the text of the last bytes seen
 * per header is kept, so a read does not decode the same few bytes into a new string per record.
 */
const lastHeader = new Map<string, { bytes: Buffer; text: string }>();

function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  if (first === undefined || typeof first === 'string') return first;
  const last = lastHeader.get(name);
  if (last && last.bytes.equals(first)) return last.text;
  const text = first.toString();
  // A copy: `first` is a view of a whole fetch response, which it would keep alive.
  lastHeader.set(name, { bytes: Buffer.from(first), text });
  return text;
}

interface ShadowtapHeaders {
  schema: string | undefined;
  version: string | undefined;
  wireFormat: string | undefined;
}

/** The lean fetch hands the same headers object over for every record with the same header bytes: read once for all of them. */
const knownHeaders = new WeakMap<IHeaders, ShadowtapHeaders>();
const noHeaders: ShadowtapHeaders = { schema: undefined, version: undefined, wireFormat: undefined };

function shadowtapHeaders(headers: IHeaders | undefined): ShadowtapHeaders {
  if (!headers) return noHeaders;
  let known = knownHeaders.get(headers);
  if (!known) {
    known = { schema: headerText(headers, schemaHeader), version: headerText(headers, schemaVersionHeader), wireFormat: headerText(headers, wireFormatHeader) };
    knownHeaders.set(headers, known);
  }
  return known;
}

/** The message's record, or the ShadowtapError saying why it cannot be decoded (it then goes to the dead-letter topic). */
export type RecordDecoder<T> = (message: Pick<KafkaMessage, 'headers' | 'value'>, position: Position) => T | ShadowtapError | Promise<T | ShadowtapError>;

/**
 * Decodes the records of `topic`: shadowtap's own (Avro, schema version in a header, optionally
 * framed in the registry's wire format) and, with `registry`, framed records of other producers.
 */
export function recordDecoder<T>(topic: string, kind: RecordKind<T>, registry: RegistryCodec<T> | undefined): RecordDecoder<T> {
  const badRecord = (position: Position, error: unknown) =>
    new ShadowtapError(
      'ST_BAD_RECORD',
      `cannot decode the record at ${topic} partition ${position.partition} offset ${position.offset}: ${(error as Error).message}`,
      { cause: error },
    );
  return (message, position) => {
    const { schema, version, wireFormat } = shadowtapHeaders(message.headers);
    try {
      if (!message.value) throw new Error('the record has no value');
      if (schema !== undefined && schema !== kind.codec.name) throw new Error(`it is a ${schema} record, not a ${kind.codec.name}`);
      let bytes = message.value;
      if (wireFormat === 'confluent' || (version === undefined && registry && bytes[0] === 0)) {
        // shadowtap's own framed records name their schema version in a header, so no registry round trip is needed.
        if (version === undefined) {
          if (!registry) throw new Error('it is in the Schema Registry wire format without a shadowtap schema version; give --schema-registry to read it');
          return registry.decode(bytes).catch((error) => badRecord(position, error));
        }
        bytes = decodeFramed(bytes).body;
      }
      return kind.codec.decode(bytes, version === undefined ? undefined : Number(version));
    } catch (error) {
      return badRecord(position, error);
    }
  };
}

/**
 * A window of record times, [fromMs, toMs), judged by each record's own time (a capture's
 * capture time), never by its Kafka timestamp: that is when the record was appended, which for
 * an imported recording or a spool drained after an outage is long after it was captured.
 */
export interface RecordWindow<T> {
  /** The record's own time when it can be read from its bytes without decoding the record; else undefined. */
  peekMs(message: Pick<KafkaMessage, 'headers' | 'value'>): number | undefined;
  timeMs(record: T): number;
  holds(timeMs: number): boolean;
}

/** The window of a read that hands over every record (snapshots, verdicts, a partition re-read). */
export const everyRecord: RecordWindow<unknown> = { peekMs: () => undefined, timeMs: () => 0, holds: () => true };

export function recordWindow<T>(kind: RecordKind<T>, fromMs: number | undefined, toMs: number | undefined): RecordWindow<T> {
  const from = fromMs ?? -Infinity;
  const to = toMs ?? Infinity;
  const peekable = startsWithIdAndTime(kind);
  return {
    peekMs: (message) => (peekable ? peekCaptureTimeMs(message) : undefined),
    timeMs: kind.timestampMs,
    holds: (timeMs) => timeMs >= from && timeMs < to,
  };
}

/** Whether the kind's records begin with the string `id` and the long `captureTime` (micros), as every capture schema version does. */
function startsWithIdAndTime<T>(kind: RecordKind<T>): boolean {
  const fields = (kind.codec.type as unknown as { fields?: Array<{ name: string }> }).fields;
  return kind.name === 'captures' && fields?.[0]?.name === 'id' && fields[1]?.name === 'captureTime';
}

/**
 * A capture's time in ms read from its first two Avro fields (zigzag varints: the id's length,
 * its bytes, then the capture time in micros), so records outside a window are skipped without
 * being decoded. Undefined when the bytes are not plain shadowtap Avro or end too soon: the
 * record is then decoded, and a damaged one goes to the dead letters as before.
 */
function peekCaptureTimeMs(message: Pick<KafkaMessage, 'headers' | 'value'>): number | undefined {
  const bytes = message.value;
  const { version, wireFormat } = shadowtapHeaders(message.headers);
  if (!bytes || version === undefined || wireFormat !== undefined) return undefined;
  const idLength = readVarLong(bytes, 0);
  if (!idLength || idLength.value < 0) return undefined;
  const time = readVarLong(bytes, idLength.end + idLength.value);
  return time && Math.floor(time.value / 1000);
}

/** A zigzag varint (Avro long) at `offset`, while it stays a safe integer; undefined past the end. */
function readVarLong(bytes: Buffer, offset: number): { value: number; end: number } | undefined {
  let zigzag = 0;
  let scale = 1;
  for (let i = offset; i < bytes.length && i < offset + 8; i++) {
    const byte = bytes[i]!;
    zigzag += (byte & 0x7f) * scale;
    if (byte < 0x80) return { value: zigzag % 2 === 0 ? zigzag / 2 : -(zigzag + 1) / 2, end: i + 1 };
    scale *= 128;
  }
  return undefined;
}
