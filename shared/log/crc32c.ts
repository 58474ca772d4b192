import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Hardware CRC32C (SSE 4.2 / ARMv8); kafkajs's JavaScript one where no prebuilt binary fits the platform. */
export const crc32c: (bytes: Buffer) => number = loadCrc32c();

function loadCrc32c(): (bytes: Buffer) => number {
  try {
    return (require('@node-rs/crc32') as { crc32c: (bytes: Buffer) => number }).crc32c;
  } catch {
    return require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (bytes: Buffer) => number;
  }
}
