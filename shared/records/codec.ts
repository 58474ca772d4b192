import avro from 'avsc';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../package-root.js';
import './avro-string-writer.js';
import type { Capture, Result } from './types.js';

/**
 * Encodes and decodes one record kind. Every schema version ever shipped stays in
 * shared/schemas/vN/, so records written by an older version are read through Avro schema
 * resolution into the current shape.
 */
export interface Codec<T> {
  readonly name: string;
  readonly version: number;
  readonly type: avro.Type;
  encode(record: T): Buffer;
  /** Writes the record into `target` at `offset`; returns the end offset, or a negative number when `target` is too small. */
  encodeInto(record: T, target: Buffer, offset: number): number;
  /** Decodes bytes written with schema `writerVersion` (default: current). */
  decode(bytes: Buffer, writerVersion?: number): T;
}

function loadVersions(name: string): Map<number, avro.Type> {
  const root = join(packageRoot(), 'shared', 'schemas');
  const versions = new Map<number, avro.Type>();
  for (const dir of readdirSync(root)) {
    const match = /^v(\d+)$/.exec(dir);
    // A record kind exists from the version that introduced it on (verdicts from v2).
    if (!match || !existsSync(join(root, dir, `${name}.avsc`))) continue;
    const schema = JSON.parse(readFileSync(join(root, dir, `${name}.avsc`), 'utf8'));
    versions.set(Number(match[1]), avro.Type.forSchema(schema));
  }
  return versions;
}

export function createCodec<T>(name: string): Codec<T> {
  const versions = loadVersions(name);
  const version = Math.max(...versions.keys());
  const type = versions.get(version)!;
  const resolvers = new Map<number, avro.Resolver>();
  const resolverFor = (writerVersion: number): avro.Resolver => {
    let resolver = resolvers.get(writerVersion);
    if (!resolver) {
      const writer = versions.get(writerVersion);
      if (!writer) throw new Error(`unknown ${name} schema version ${writerVersion}`);
      resolver = type.createResolver(writer);
      resolvers.set(writerVersion, resolver);
    }
    return resolver;
  };
  // avsc's toBuffer encodes into a 1 KB buffer and, for any larger record, encodes it all over
  // again: most captures are larger. One scratch buffer that grows to the largest record seen.
  let scratch = Buffer.allocUnsafeSlow(16 * 1024);
  return {
    name,
    version,
    type,
    encode: (record) => {
      let end = type.encode(record, scratch, 0);
      if (end < 0) {
        scratch = Buffer.allocUnsafeSlow(2 * (scratch.length - end));
        end = type.encode(record, scratch, 0);
      }
      return Buffer.from(scratch.subarray(0, end));
    },
    encodeInto: (record, target, offset) => type.encode(record, target, offset),
    decode: (bytes, writerVersion = version) =>
      writerVersion === version ? type.fromBuffer(bytes) : type.fromBuffer(bytes, resolverFor(writerVersion)),
  };
}

export const captureCodec: Codec<Capture> = createCodec<Capture>('capture');
export const resultCodec: Codec<Result> = createCodec<Result>('result');
