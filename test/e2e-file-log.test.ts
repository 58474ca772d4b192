import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runPipeline } from '../demo/pipeline.js';
import { assertEachIdOnce, assertSeededDifferencesOnly } from './helpers/pipeline-assertions.js';

test('end to end on the embedded file log: capture → replay → diff finds exactly the seeded differences', async () => {
  const store = await mkdtemp(join(tmpdir(), 'shadowtap-e2e-'));
  try {
    const startMs = Date.now();
    const run = await runPipeline({ log: { store }, requests: 300 });
    assertSeededDifferencesOnly(run);
    await assertEachIdOnce(run, { store }, startMs);
  } finally {
    await rm(store, { recursive: true, force: true });
  }
});
