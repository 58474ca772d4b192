import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openKafkaLog } from '../shared/log/kafka-log.js';
import { captureKind, type Position, type RecordLog } from '../shared/log/record-log.js';
import type { Capture } from '../shared/records/types.js';
import { startKafkaBroker } from './kafka/broker.js';
import { randomName, rawMessages } from './helpers/kafka-env.js';
import { sampleCapture } from './helpers/sample-records.js';

// A broker of this test's own: the test damages a segment file on its disk, as a failing disk would.
let broker: Awaited<ReturnType<typeof startKafkaBroker>>;
before(async () => {
  broker = await startKafkaBroker();
});
after(async () => {
  await broker?.stop();
});

test('a record batch damaged on the broker’s disk goes to the dead letters whole and is reported; the batches around it are read', { timeout: 120_000 }, async () => {
  const prefix = `${randomName('damaged')}.`;
  const log: RecordLog<Capture> = await openKafkaLog(captureKind, { brokers: [broker.brokers], topicPrefix: prefix, partitions: 1, clientId: 'shadowtap-test', compression: 'none' });
  try {
    // Three appends, three record batches: offsets 0-4, 5-9, 10-14.
    for (let batch = 0; batch < 3; batch++) {
      await log.append(Array.from({ length: 5 }, (_, i) => sampleCapture({ id: `b${batch}-${i}` })));
    }
    // A byte inside the middle batch's records: its CRC32C no longer matches. The broker serves
    // fetches from the file as it is (it checked the CRC when the batch was appended).
    const segment = await open(join(broker.dataDir, `${log.name}-0`, '00000000000000000000.log'), 'r+');
    try {
      const head = Buffer.alloc(12);
      await segment.read(head, 0, 12, 0);
      const second = 12 + head.readInt32BE(8);
      const byte = Buffer.alloc(1);
      await segment.read(byte, 0, 1, second + 80);
      byte[0] ^= 0xff;
      await segment.write(byte, 0, 1, second + 80);
    } finally {
      await segment.close();
    }

    const reported: Array<{ position: Position; error: Error }> = [];
    const ids: string[] = [];
    for await (const entry of log.read({ onDeadLetter: (position, error) => reported.push({ position, error }) })) ids.push(entry.value.id);

    assert.deepEqual(ids, [0, 2].flatMap((batch) => Array.from({ length: 5 }, (_, i) => `b${batch}-${i}`)));
    assert.equal(reported.length, 1);
    assert.deepEqual(reported[0]!.position, { partition: 0, offset: 5 });
    assert.match(reported[0]!.error.message, /offsets 5-9 \(5 records as its header says\): it fails its CRC32C check/);
    const [dead] = await rawMessages(`${log.name}.dlq`, 1, [broker.brokers]);
    assert.equal(dead!.headers?.['shadowtap-dlq-offset']?.toString(), '5');
    assert.match(dead!.headers?.['shadowtap-dlq-error']?.toString() ?? '', /CRC32C/);
    // The batch as it was on disk, damage included: nothing of it is lost.
    assert.equal(dead!.value?.readInt32BE(8), dead!.value!.length - 12);
    assert.equal(dead!.value?.readBigInt64BE(0), 5n);
  } finally {
    await log.close();
  }
});
