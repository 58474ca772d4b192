import type { IHeaders, KafkaMessage } from 'kafkajs';
import { ShadowtapError } from '../errors.js';
import { decodeFramed, type RegistryCodec } from '../records/schema-registry.js';
import type { Position, RecordKind } from './record-log.js';

export const schemaHeader = 'shadowtap-schema';
export const schemaVersionHeader = 'shadowtap-schema-version';
/** `confluent` when the value is in the Schema Registry wire format: magic byte 0, schema id, Avro body. */
export const wireFormatHeader = 'shadowtap-wire-format';

function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
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
    const schema = headerText(message.headers, schemaHeader);
    const version = headerText(message.headers, schemaVersionHeader);
    try {
      if (!message.value) throw new Error('the record has no value');
      if (schema !== undefined && schema !== kind.codec.name) throw new Error(`it is a ${schema} record, not a ${kind.codec.name}`);
      let bytes = message.value;
      if (headerText(message.headers, wireFormatHeader) === 'confluent' || (version === undefined && registry && bytes[0] === 0)) {
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
