import { readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { indexPathOf } from '../shared/log/segment-reader.js';
import { SegmentWriter } from '../shared/log/segment-writer.js';
import type { Codec } from '../shared/records/codec.js';
import type { SpoolEvents } from './disk-spool.js';

/**
 * Spool files of agents before the spool shared the file log's segment format: length-prefixed
 * Avro records, the schema version in the name (`<seq>.v<N>.spool`; none: v1, the only one then).
 */
const LEGACY = /^(\d{16})(?:\.v(\d+))?\.spool$/;

/**
 * Rewrites each legacy spool file found as a segment of the same number, once, after an upgrade:
 * its records decoded with the version they were written with, then encoded with the current
 * one. A torn or undecodable record is counted as lost. The old file goes only once the segment
 * is whole, so a crash here repeats the conversion instead of losing records.
 */
export async function convertLegacySpool(dir: string, codec: Codec<unknown>, events: Pick<SpoolEvents, 'onLoss'>, segmentName: (seq: number) => string): Promise<void> {
  for (const name of (await readdir(dir)).sort()) {
    const match = LEGACY.exec(name);
    if (!match) continue;
    const version = match[2] === undefined ? 1 : Number(match[2]);
    const data = await readFile(join(dir, name));
    const records: Buffer[] = [];
    for (let at = 0; at < data.length; ) {
      const length = at + 4 <= data.length ? data.readUInt32BE(at) : Infinity;
      if (at + 4 + length > data.length) {
        events.onLoss(1, new Error(`spool file ${name} ends inside a record (cut by a crash)`));
        break;
      }
      try {
        records.push(codec.encode(codec.decode(data.subarray(at + 4, at + 4 + length), version)));
      } catch (error) {
        events.onLoss(1, new Error(`spool file ${name}: a record of schema v${version} cannot be decoded: ${(error as Error).message}`));
      }
      at += 4 + length;
    }
    const path = join(dir, segmentName(Number(match[1])));
    // A segment of this number is one an interrupted conversion left: it is written again.
    for (const file of [path, indexPathOf(path)]) await unlink(file).catch(() => {});
    if (records.length > 0) {
      const writer = await SegmentWriter.create(path, codec, 0);
      try {
        await writer.append(records);
      } finally {
        await writer.close();
      }
    }
    await unlink(join(dir, name));
  }
}
