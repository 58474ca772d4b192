import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderText } from '../index.js';
import { runDiff } from '../index.js';
import { captureKind, resultKind } from '../shared/log/record-log.js';
import type { Capture, Result } from '../shared/records/types.js';
import { memoryLog } from './helpers/diff-memory-log.js';
import { capture, json, result } from './helpers/diff-pairs.js';

test('a field that is noise on every route is listed once, with its reasons, pairs and routes', async () => {
  const captures: Capture[] = [];
  const results: Result[] = [];
  const paths = ['/users/1', '/orders/2', '/carts/3', '/search'];
  for (let i = 0; i < 12; i++) {
    const path = paths[i % paths.length]!;
    captures.push(capture(`n${i}`, path, json({ servedAt: '2026-01-01T10:00:00Z', ok: true }), i));
    results.push(result(`n${i}`, json({ servedAt: `2026-01-01T10:00:${String(i + 1).padStart(2, '0')}Z`, ok: i !== 0 }), i));
  }
  const report = await runDiff({ captures: memoryLog(captureKind, captures), results: memoryLog(resultKind, results) });
  assert.equal(report.noise!.length, 1);
  const group = report.noise![0]!;
  assert.deepEqual(
    { field: group.field, reasons: group.reasons, pairs: group.pairs, routeCount: group.routeCount },
    { field: '$.servedAt', reasons: { timestamp: 12 }, pairs: 12, routeCount: 4 },
  );
  assert.deepEqual([...group.routes].sort(), ['GET /carts/{id}', 'GET /orders/{id}', 'GET /search', 'GET /users/{id}']);

  const text = renderText(report);
  assert.equal(text.split('$.servedAt').length - 1, 1, text);
  assert.match(text, /\$\.servedAt \(timestamp\): 12 pairs, 4 routes/);
  assert.match(text, /GET \/users\/\{id\}\s+3\s+0\s+1\s+2/, 'the real difference of n0 still counts on its route');
});
