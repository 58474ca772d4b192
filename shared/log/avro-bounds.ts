import type avro from 'avsc';

/**
 * Walks Avro bytes against a schema without building values, with work bounded by the bytes:
 * every count and length is checked against what remains. avsc trusts counts, so a damaged
 * map count of 2^31 makes it loop for hours; damaged bytes pass through this walk first.
 */

/** Items counted in an array or map whose items take no bytes at all (arrays of null) are capped here. */
const maxEmptyItems = 1_000_000;

interface AvroTypeShape {
  typeName: string;
  underlyingType?: AvroTypeShape;
  itemsType?: AvroTypeShape;
  valuesType?: AvroTypeShape;
  fields?: Array<{ type: AvroTypeShape }>;
  types?: AvroTypeShape[];
  size?: number;
  symbols?: string[];
}

/** Thrown for bytes no Avro writer of this schema could have produced. */
export class AvroBoundsError extends Error {}

/**
 * The offset just after one value of `type` starting at `pos`, or -1 when the value would need
 * bytes past `end`. Throws AvroBoundsError when the bytes cannot be such a value.
 */
export function skipValue(type: avro.Type, buf: Buffer, pos: number, end = buf.length): number {
  return skip(type as unknown as AvroTypeShape, buf, pos, end);
}

/** A zigzag varint at `pos`: its value and the offset after it (-1 when it runs past `end`). */
export function readLong(buf: Buffer, pos: number, end: number): { value: number; next: number } {
  let raw = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos + i >= end) return { value: 0, next: -1 };
    const byte = buf[pos + i]!;
    raw += (byte & 0x7f) * scale;
    scale *= 128;
    if ((byte & 0x80) === 0) {
      const value = raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
      return { value, next: pos + i + 1 };
    }
  }
  throw new AvroBoundsError('a number longer than 10 bytes');
}

function skip(type: AvroTypeShape, buf: Buffer, pos: number, end: number): number {
  if (type.underlyingType) return skip(type.underlyingType, buf, pos, end);
  switch (type.typeName) {
    case 'null':
      return pos;
    case 'boolean':
      if (pos >= end) return -1;
      if (buf[pos]! > 1) throw new AvroBoundsError('a boolean that is neither 0 nor 1');
      return pos + 1;
    case 'int':
    case 'long':
      return readLong(buf, pos, end).next;
    case 'float':
      return pos + 4 <= end ? pos + 4 : -1;
    case 'double':
      return pos + 8 <= end ? pos + 8 : -1;
    case 'bytes':
    case 'string':
      return skipLength(buf, pos, end);
    case 'fixed':
      return pos + type.size! <= end ? pos + type.size! : -1;
    case 'enum': {
      const { value, next } = readLong(buf, pos, end);
      if (next >= 0 && (value < 0 || value >= type.symbols!.length)) throw new AvroBoundsError(`enum index ${value} out of range`);
      return next;
    }
    case 'array':
      return skipBlocks(buf, pos, end, (at) => skip(type.itemsType!, buf, at, end), minSize(type.itemsType!));
    case 'map':
      return skipBlocks(buf, pos, end, (at) => {
        const afterKey = skipLength(buf, at, end);
        return afterKey < 0 ? -1 : skip(type.valuesType!, buf, afterKey, end);
      }, 1);
    case 'record':
    case 'error': {
      let at = pos;
      for (const field of type.fields!) {
        at = skip(field.type, buf, at, end);
        if (at < 0) return -1;
      }
      return at;
    }
    default: {
      if (!type.types) throw new AvroBoundsError(`unsupported Avro type ${type.typeName}`);
      const { value, next } = readLong(buf, pos, end);
      if (next < 0) return -1;
      const branch = type.types[value];
      if (!branch) throw new AvroBoundsError(`union branch ${value} out of range`);
      return skip(branch, buf, next, end);
    }
  }
}

function skipLength(buf: Buffer, pos: number, end: number): number {
  const { value, next } = readLong(buf, pos, end);
  if (next < 0) return -1;
  if (value < 0) throw new AvroBoundsError(`a negative length ${value}`);
  return next + value <= end ? next + value : -1;
}

function skipBlocks(buf: Buffer, pos: number, end: number, item: (at: number) => number, itemBytes: number): number {
  let at = pos;
  for (;;) {
    const head = readLong(buf, at, end);
    if (head.next < 0) return -1;
    at = head.next;
    let count = head.value;
    if (count === 0) return at;
    if (count < 0) {
      count = -count;
      const size = readLong(buf, at, end);
      if (size.next < 0) return -1;
      at = size.next;
    }
    if (itemBytes > 0 ? count * itemBytes > end - at : count > maxEmptyItems) return -1;
    for (let i = 0; i < count; i++) {
      at = item(at);
      if (at < 0) return -1;
    }
  }
}

/** The fewest bytes a value of this type takes. */
function minSize(type: AvroTypeShape): number {
  if (type.underlyingType) return minSize(type.underlyingType);
  switch (type.typeName) {
    case 'null':
      return 0;
    case 'float':
      return 4;
    case 'double':
      return 8;
    case 'fixed':
      return type.size!;
    case 'record':
    case 'error':
      return type.fields!.reduce((sum, field) => sum + minSize(field.type), 0);
    default:
      return 1;
  }
}
