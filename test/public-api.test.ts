import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import * as publicApi from '../index.js';
import { packageRoot } from '../shared/package-root.js';
import { startHttpServer } from './helpers/capture-helpers.js';

const run = promisify(execFile);

test("the package name resolves to the public API through the exports map, and nothing else is reachable", async () => {
  // A variable specifier: resolved by Node at run time through package.json, not by the compiler.
  const name = 'shadowtap';
  const resolved = (await import(name)) as typeof publicApi;
  assert.equal(resolved.openLog, publicApi.openLog);
  assert.equal(typeof resolved.runReplay, 'function');
  assert.equal(typeof resolved.runDiff, 'function');
  // Each stage's factory and its defaults, the modes of capture, the renderers by format.
  assert.equal(resolved.createDiff, publicApi.createDiff);
  assert.equal(resolved.createCapture, publicApi.createCapture);
  assert.equal(typeof resolved.proxyMode, 'function');
  assert.equal(typeof resolved.mirrorMode, 'function');
  assert.equal(resolved.diffDefaults.joinWindow, publicApi.diffDefaults.joinWindow);
  assert.deepEqual([...resolved.reportFormats], ['text', 'json', 'jsonl', 'html', 'junit', 'md']);
  assert.equal(typeof resolved.evaluateGate, 'function');
  assert.equal(typeof resolved.captureMiddleware, 'function');
  const shadow = (await import(`${name}/shadow`)) as { isShadow: unknown };
  assert.equal(typeof shadow.isShadow, 'function');
  await assert.rejects(import(`${name}/dist/diff/run-diff.js`), { code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
});

test("README's library example runs as written: capture → file log → replay → diff", async () => {
  const readme = await readFile(join(packageRoot(), 'README.md'), 'utf8');
  const example = /<!-- library-example -->\s*```js\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(example, 'README has the library example');
  const user = (id: string, name: string) => JSON.stringify({ id: Number(id), name });
  const stable = await startHttpServer((req, res) => res.setHeader('content-type', 'application/json').end(user(req.url!.split('/').pop()!, 'Ada')));
  // The shadow renames user 2: the one difference the report must show.
  const shadow = await startHttpServer((req, res) => {
    const id = req.url!.split('/').pop()!;
    res.setHeader('content-type', 'application/json').end(user(id, id === '2' ? 'Grace' : 'Ada'));
  });
  const store = await mkdtemp(join(tmpdir(), 'shadowtap-example-'));
  // Inside the package, so `import 'shadowtap'` resolves to it as it would in a user's project.
  const script = join(packageRoot(), 'dist', `library-example-${process.pid}.mjs`);
  try {
    await writeFile(script, example);
    const { stdout } = await run(process.execPath, [script], { env: { ...process.env, STABLE_URL: stable.url, SHADOW_URL: shadow.url, STORE: store } });
    assert.match(stdout, /3 pairs compared, 1 mismatched/);
    assert.match(stdout, /\$\.name/);
  } finally {
    await rm(script, { force: true });
    await rm(store, { recursive: true, force: true });
    await stable.close();
    await shadow.close();
  }
});
