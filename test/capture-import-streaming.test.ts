import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { goreplayItems, harItems, importCaptures } from '../capture/index.js';
import { packageRoot } from '../shared/package-root.js';
import { MemorySink } from './helpers/capture-helpers.js';

const fixtures = join(packageRoot(), 'test', 'fixtures', 'capture');
const source = { agent: 'import-test', service: 'shop', maxBodyBytes: 1024 * 1024 };
const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** The file cut into chunks of 1 to 7 bytes: every boundary a stream can put anywhere. */
async function* smallChunks(bytes: Buffer): AsyncGenerator<Buffer> {
  for (let at = 0, size = 1; at < bytes.length; at += size, size = (size % 7) + 1) yield bytes.subarray(at, at + size);
}

/** What an import made of the file, without the generated ids. */
async function imported(items: AsyncIterable<unknown>): Promise<unknown> {
  const sink = new MemorySink();
  const summary = await importCaptures(items as Parameters<typeof importCaptures>[0], sink);
  return { summary, captures: sink.records.map(({ id: _id, ...rest }) => JSON.parse(JSON.stringify(rest))) };
}

test('a HAR or GoReplay file read in chunks of any size imports exactly what it imports whole', async () => {
  const har = await readFile(join(fixtures, 'sample.har'));
  assert.deepEqual(await imported(harItems(smallChunks(har), source)), await imported(harItems(har, source)));
  const gor = await readFile(join(fixtures, 'sample.gor'));
  assert.deepEqual(await imported(goreplayItems(smallChunks(gor), source)), await imported(goreplayItems(gor, source)));
});

test('import goreplay of a file larger than the heap it is given: streamed, all of it imported, progress on stderr', { timeout: 240_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shadowtap-import-big-'));
  dirs.push(dir);
  const file = join(dir, 'big.gor');
  // 20,000 pairs with 2 KB responses: 41 MiB, more than the 40 MiB heap the import runs with
  // (reading it whole, or holding its captures, fails with "heap out of memory").
  const pairs = 20_000;
  const out = createWriteStream(file);
  const separator = '\n🐵🙈🙉\n';
  const body = 'x'.repeat(2000);
  for (let i = 0; i < pairs; i++) {
    const ns = 1_764_000_000_000_000_000n + BigInt(i) * 1_000_000n;
    const chunk = `1 id${i} ${ns} 0\nGET /item/${i} HTTP/1.1\r\nHost: a\r\n\r\n${separator}2 id${i} ${ns + 500_000n} 500000\nHTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}${separator}`;
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));
  const child = spawn(process.execPath, ['--max-old-space-size=40', join(packageRoot(), 'dist', 'cli', 'main.js'), 'import', 'goreplay', file, '--store', join(dir, 'store')]);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const code = await new Promise((resolve) => child.on('close', resolve));
  assert.equal(code, 0, stderr);
  assert.match(stdout, new RegExp(`^imported ${pairs} captures from big\\.gor into `));
  assert.match(stderr, new RegExp(`import big\\.gor: 100% \\(41\\.\\d of 41\\.\\d MiB\\), ${pairs} captures`), 'a last progress line');
});
