import assert from 'node:assert/strict';
import type { PipelineRun } from '../../demo/pipeline.js';
import { openLog, type LogOptions } from '../../shared/log/open-log.js';
import { captureKind, resultKind } from '../../shared/log/record-log.js';

/**
 * The sample shadow differs from stable in exactly four ways (demo/sample-app.ts). A report
 * must find those four and nothing else: noise (timestamps, trace ids) is not a mismatch.
 */
export function assertSeededDifferencesOnly(run: PipelineRun): void {
  const { report } = run;
  const mismatchedRoutes = report.routes.filter((r) => r.counts.mismatch + r.counts['shadow-error'] > 0).map((r) => r.route);
  assert.deepEqual(
    [...new Set(mismatchedRoutes.map((r) => r.replace(/\/api\/products\/.*/, '/api/products/*')))].sort(),
    ['GET /api/products/*', 'GET /api/search', 'POST /api/orders'],
    `mismatched routes: ${mismatchedRoutes.join(', ')}`,
  );
  const realFields = report.fields.filter((f) => f.differs - f.noise - f.accepted > 0);
  const fieldsByRoute = new Set(realFields.map((f) => `${f.route.startsWith('GET /api/products/') ? 'products' : f.route} ${f.field}`));
  assert.ok(fieldsByRoute.has('products $.price'), `price difference found: ${[...fieldsByRoute].join(', ')}`);
  assert.ok(fieldsByRoute.has('GET /api/search status'), `status difference found: ${[...fieldsByRoute].join(', ')}`);
  // The shadow's second confirmation email: a side effect repeated, critical because it writes.
  const email = realFields.find((f) => f.route === 'POST /api/orders');
  assert.ok(email, `side-effect difference found: ${[...fieldsByRoute].join(', ')}`);
  assert.match(email.field, /^side-effect:POST http:\/\/127\.0\.0\.1:\d+\/send$/);
  assert.equal(email.severity, 'critical');
  assert.equal(email.differs, run.captured / 10, 'every order');
  for (const field of fieldsByRoute) {
    assert.ok(
      field === 'products $.price' || field.startsWith('GET /api/search ') || field === `POST /api/orders ${email.field}`,
      `unexpected differing field ${field}`,
    );
  }
  const slower = report.routes.filter((r) => r.latency.regression).map((r) => r.route);
  assert.ok(slower.includes('GET /api/orders/{id}'), `the slower route is flagged: ${slower.join(', ')}`);
  // Routes the shadow did not change must not be called slower (the search route answers 500 instead, a mismatch already).
  for (const unchanged of ['GET /api/users/{id}', 'GET /health']) {
    assert.ok(!slower.includes(unchanged), `${unchanged} is not slower: ${JSON.stringify(report.routes.find((r) => r.route === unchanged)?.latency)}`);
  }
  const usersRoute = report.routes.find((r) => r.route === 'GET /api/users/{id}');
  assert.ok(usersRoute, 'user ids are grouped under one route template');
  assert.equal(usersRoute.counts.mismatch, 0, 'timestamps and trace ids are noise, not mismatches');
  assert.equal(report.totals.missing, 0);
  assert.equal(report.totals.duplicates, 0);
  assert.equal(report.totals.pairs, run.captured, 'one pair per request');
  assert.equal(report.totals.skipped, 0, 'orders are replayed: the shadow proved it is guarded');
  assert.equal(run.emailsReceived, run.captured / 10, "stable's emails only: none of the shadow's left");
}

/** Every client request is in the captures log once, under an id of its own with exactly one shadow Result (and at most one reference Result). */
export async function assertEachIdOnce(run: PipelineRun, log: LogOptions, fromMs: number): Promise<void> {
  const captures = await openLog(captureKind, log);
  const results = await openLog(resultKind, log);
  try {
    const captureIds: string[] = [];
    const clientIds = new Map<string | null, number>();
    for await (const entry of captures.read({ fromMs })) {
      captureIds.push(entry.value.id);
      clientIds.set(entry.value.clientRequestId, (clientIds.get(entry.value.clientRequestId) ?? 0) + 1);
    }
    const resultCounts = new Map<string, number>();
    const referenceCounts = new Map<string, number>();
    for await (const entry of results.read({ fromMs })) {
      const counts = entry.value.role === 'reference' ? referenceCounts : resultCounts;
      counts.set(entry.value.id, (counts.get(entry.value.id) ?? 0) + 1);
    }
    for (const [id, n] of referenceCounts) assert.equal(n, 1, `reference result ${id}`);
    assert.equal(captureIds.length, run.ids.length);
    assert.equal(new Set(captureIds).size, captureIds.length, 'capture ids are distinct');
    assert.equal(resultCounts.size, run.ids.length);
    for (const id of run.ids) assert.equal(clientIds.get(id), 1, `capture of client request ${id}`);
    for (const id of captureIds) assert.equal(resultCounts.get(id), 1, `result ${id}`);
  } finally {
    await captures.close();
    await results.close();
  }
}
