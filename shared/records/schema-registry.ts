import avro from 'avsc';
import { configError, logUnreachable, ShadowtapError } from '../errors.js';
import type { Codec } from './codec.js';

/**
 * Confluent Schema Registry wire format, for topics that other Kafka tools (kcat -s, ksqlDB,
 * Kafka Connect) read: each value is a magic byte 0, the schema id as a 4-byte big-endian
 * integer, then the Avro binary body. Schemas are registered under `<topic>-value`
 * (TopicNameStrategy) and their ids cached, so the registry is asked once per schema.
 */

const magicByte = 0;
const headerBytes = 5;
const contentType = 'application/vnd.schemaregistry.v1+json';

export interface SchemaRegistryOptions {
  /** Base URL of the registry, e.g. http://schema-registry:8081. */
  url: string;
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number;
  /** Sent as the Authorization header (e.g. `Basic …`), when the registry needs it. */
  authorization?: string;
}

/** The subject a topic's values are registered under (Confluent's TopicNameStrategy). */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}

/** Writes a record framed with its schema id into `target` at `offset`: the end offset, or negative when `target` is too small. */
export function encodeFramedInto<T>(schemaId: number, codec: Codec<T>, record: T, target: Buffer, offset: number): number {
  if (target.length < offset + headerBytes) return target.length - offset - headerBytes - 1024;
  target.writeUInt8(magicByte, offset);
  target.writeUInt32BE(schemaId, offset + 1);
  return codec.encodeInto(record, target, offset + headerBytes);
}

/** Frames an Avro body with its schema id. */
export function encodeFramed(schemaId: number, body: Buffer): Buffer {
  const header = Buffer.alloc(headerBytes);
  header.writeUInt8(magicByte, 0);
  header.writeUInt32BE(schemaId, 1);
  return Buffer.concat([header, body]);
}

/** Splits a framed value into its schema id and Avro body; a value without the frame is a bad record. */
export function decodeFramed(value: Buffer): { schemaId: number; body: Buffer } {
  if (value.length < headerBytes || value[0] !== magicByte) {
    throw new ShadowtapError('ST_BAD_RECORD', 'record is not in Schema Registry wire format (magic byte 0 and a 4-byte schema id)');
  }
  return { schemaId: value.readUInt32BE(1), body: value.subarray(headerBytes) };
}

export class SchemaRegistryClient {
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly authorization?: string;
  /** subject + canonical schema → id; the promise itself is cached so concurrent callers share one request. */
  private readonly ids = new Map<string, Promise<number>>();
  private readonly schemas = new Map<number, Promise<avro.Type>>();

  constructor(options: SchemaRegistryOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.authorization = options.authorization;
  }

  /** Registers `type` under `subject` (idempotent in the registry) and returns its id. */
  register(subject: string, type: avro.Type): Promise<number> {
    const schema = JSON.stringify(type.schema());
    const key = `${subject}\n${schema}`;
    let id = this.ids.get(key);
    if (!id) {
      id = this.request<{ id: number }>('POST', `/subjects/${encodeURIComponent(subject)}/versions`, { schema }).then((body) => {
        if (!Number.isInteger(body.id)) throw configError(`schema registry ${this.base} answered a registration without an id`);
        this.schemas.set(body.id, Promise.resolve(type));
        return body.id;
      });
      id.catch(() => this.ids.delete(key));
      this.ids.set(key, id);
    }
    return id;
  }

  /** The schema a record was written with, by the id in its frame. */
  schemaById(id: number): Promise<avro.Type> {
    let type = this.schemas.get(id);
    if (!type) {
      type = this.request<{ schema: string }>('GET', `/schemas/ids/${id}`).then((body) => avro.Type.forSchema(JSON.parse(body.schema)));
      type.catch(() => this.schemas.delete(id));
      this.schemas.set(id, type);
    }
    return type;
  }

  private async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const url = `${this.base}${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          accept: contentType,
          ...(body !== undefined && { 'content-type': contentType }),
          ...(this.authorization && { authorization: this.authorization }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw logUnreachable(`schema registry ${this.base} cannot be reached (${(error as Error).message}); check --schema-registry`, error);
    }
    const text = await response.text();
    if (!response.ok) {
      // The registry explains itself in {"error_code": 409, "message": "..."}.
      let message = text;
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? text;
      } catch {
        /* not JSON: keep the text */
      }
      const what = `schema registry ${method} ${path} failed with ${response.status}: ${message}`;
      throw response.status >= 500 ? logUnreachable(what) : configError(what);
    }
    return JSON.parse(text) as T;
  }
}

/**
 * Encodes and decodes one record kind in the wire format of a topic. Records written with an
 * older registered schema are read through Avro schema resolution, as the file log does.
 */
export class RegistryCodec<T> {
  private readonly resolvers = new Map<number, avro.Resolver>();

  constructor(
    private readonly client: SchemaRegistryClient,
    private readonly topic: string,
    private readonly codec: Codec<T>,
  ) {}

  async encode(record: T): Promise<Buffer> {
    const id = await this.client.register(valueSubject(this.topic), this.codec.type);
    return encodeFramed(id, this.codec.encode(record));
  }

  async decode(value: Buffer): Promise<T> {
    const { schemaId, body } = decodeFramed(value);
    let resolver = this.resolvers.get(schemaId);
    if (!resolver) {
      resolver = this.codec.type.createResolver(await this.client.schemaById(schemaId));
      this.resolvers.set(schemaId, resolver);
    }
    return this.codec.type.fromBuffer(body, resolver) as T;
  }
}
