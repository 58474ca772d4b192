import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileLog } from '../shared/log/file-log.js';
import { sampleCapture } from './helpers/sample-records.js';
import { recordLogContract } from './record-log-contract.js';

recordLogContract({
  name: 'file log',
  async place() {
    const dir = await mkdtemp(join(tmpdir(), 'shadowtap-contract-'));
    return {
      open: (kind) => openFileLog(kind, { dir, partitions: 3, pollMs: 20 }),
      async appendUndecodable(kind, key) {
        // A record cut in half, written by a writer whose codec gives those bytes: its block is whole, its record is not.
        const whole = kind.codec.encode(sampleCapture({ id: key }));
        const cut = whole.subarray(0, whole.length >> 1);
        const encodeInto = (_record: unknown, target: Buffer, offset: number) =>
          offset + cut.length > target.length ? target.length - offset - cut.length : offset + cut.copy(target, offset);
        const writer = await openFileLog({ ...kind, codec: { ...kind.codec, encode: () => cut, encodeInto } }, { dir });
        await writer.append([sampleCapture({ id: key })]);
        await writer.close();
      },
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
});
