import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import { captureMiddleware } from '../index.js';
import type { PairRecord } from '../diff/pair-record.js';
import { renderHtml } from '../index.js';
import { renderMarkdown } from '../index.js';
import { renderText } from '../index.js';
import { runDiff } from '../index.js';
import { runReplay } from '../replay/replay-worker.js';
import { shadowMode } from '../shadow/index.js';
import { rawRequest, silentLogger } from './helpers/capture-helpers.js';
import { listenLocal } from './helpers/local-server.js';
import { startOutboundReceiver } from './helpers/outbound-receiver.js';
import { tempStore } from './helpers/replay-helpers.js';

test('end to end: stable emails once, the shadow tries twice; capture → replay → diff reports a critical side-effect difference', async () => {
  const mail = await startOutboundReceiver();
  const store = await tempStore();
  const email = (order: unknown) => fetch(`${mail.url}/send`, { method: 'POST', body: JSON.stringify({ template: 'confirmation', order }) }).then((r) => r.arrayBuffer());

  // Stable: Express with the capture middleware, which also records the email it sends.
  const capture = captureMiddleware({ sink: store.captures, logger: silentLogger });
  const stableApp = express();
  stableApp.use(capture);
  stableApp.use(express.json());
  stableApp.post('/orders', async (req, res) => {
    await email(req.body);
    res.status(201).json({ created: true });
  });
  stableApp.get('/orders/:id', (req, res) => void res.json({ id: Number(req.params.id) }));
  const stable = await listenLocal(http.createServer(stableApp));

  // The shadow: Fastify with shadowtap/shadow, and the seeded bug: the confirmation goes out twice.
  const shadowApp = Fastify();
  await shadowApp.register(shadowMode({ env: {} }).fastify);
  shadowApp.post('/orders', async (request, reply) => {
    await email(request.body);
    await email(request.body);
    return reply.code(201).send({ created: true });
  });
  shadowApp.get('/orders/:id', async (request) => ({ id: Number((request.params as { id: string }).id) }));
  await shadowApp.ready();
  const shadow = await listenLocal(shadowApp.server);

  try {
    for (let i = 0; i < 3; i++) {
      const res = await rawRequest(stable.url, { method: 'POST', path: '/orders', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sku: `A-${i}` }) });
      assert.equal(res.status, 201);
      assert.equal((await rawRequest(stable.url, { path: `/orders/${i}` })).status, 200);
    }
    await capture.close();
    assert.equal(mail.count('POST'), 3, "stable's emails");

    const replay = await runReplay({ source: store.captures, results: store.results, target: shadow.url });
    assert.equal(replay.sent, 6, 'orders are replayed: the shadow proved it is guarded');
    assert.equal(mail.count('POST'), 3, "none of the shadow's emails reached the mail service");

    const verdicts: PairRecord[] = [];
    const report = await runDiff({ captures: store.captures, results: store.results, onVerdict: (v) => verdicts.push(v) });
    const orders = verdicts.filter((v) => v.method === 'POST');
    assert.equal(orders.length, 3);
    for (const v of orders) {
      assert.equal(v.verdict, 'mismatch');
      assert.deepEqual(v.differences, [{ kind: 'side-effect', path: `side-effect:POST ${mail.url}/send`, change: 'value-changed', severity: 'critical' }]);
    }
    assert.ok(verdicts.filter((v) => v.method === 'GET').every((v) => v.verdict === 'match'));
    const field = report.fields.find((f) => f.route === 'POST /orders');
    assert.equal(field?.severity, 'critical');
    const sample = report.samples.find((s) => s.route === 'POST /orders');
    assert.deepEqual([sample?.differences[0]?.stable, sample?.differences[0]?.shadow], ['called once', 'tried twice (blocked)']);
    // Every report shows it like any other difference.
    for (const rendered of [renderText(report), renderMarkdown(report), renderHtml(report)]) assert.ok(rendered.includes(`side-effect:POST ${mail.url}/send`));
    assert.ok(renderHtml(report).includes('tried twice (blocked)'));
  } finally {
    await stable.close();
    await shadowApp.close();
    await mail.close();
    await store.cleanup();
  }
});
