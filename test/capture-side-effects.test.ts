import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http, { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import { captureFastifyPlugin, captureMiddleware } from '../index.js';
import type { SideEffect } from '../shared/records/types.js';
import { MemorySink, rawRequest, silentLogger, waitFor } from './helpers/capture-helpers.js';
import { listenLocal, type LocalServer } from './helpers/local-server.js';
import { callOut, composed } from './helpers/outbound-calls.js';
import { startOutboundReceiver, type OutboundReceiver } from './helpers/outbound-receiver.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

function essence(effects: SideEffect[]) {
  return effects.map((e) => [e.kind, e.name, e.pathTemplate, e.status, e.blocked]);
}

describe('the capture middleware records the outbound calls stable makes', () => {
  let receiver: OutboundReceiver;
  before(async () => {
    receiver = await startOutboundReceiver();
  });
  after(async () => {
    await receiver.close();
    await composed.close();
  });

  const starts: Record<string, (sink: MemorySink) => Promise<LocalServer>> = {
    'node:http': (sink) => {
      const capture = captureMiddleware({ sink, logger: silentLogger });
      return listenLocal(
        createServer((req, res) =>
          capture(req, res, () => {
            req.resume();
            req.on('end', () => void callOut(receiver.url).then((seen) => res.end(JSON.stringify(seen))));
          }),
        ),
      );
    },
    Express: (sink) => {
      const app = express();
      app.use(captureMiddleware({ sink, logger: silentLogger }));
      app.use(express.json());
      app.post('/work', async (_req, res) => {
        res.json(await callOut(receiver.url));
      });
      return listenLocal(http.createServer(app));
    },
    Fastify: async (sink) => {
      const app = Fastify();
      await app.register(captureFastifyPlugin, { sink, logger: silentLogger });
      app.post('/work', async () => callOut(receiver.url));
      await app.ready();
      const server = await listenLocal(app.server);
      return { ...server, close: () => app.close() };
    },
  };

  for (const [name, start] of Object.entries(starts)) {
    test(`${name}: every call is sent and recorded with its status and body hash, in order`, async () => {
      const sink = new MemorySink();
      const server = await start(sink);
      try {
        receiver.received.length = 0;
        const res = await rawRequest(server.url, { method: 'POST', path: '/work', headers: { 'content-type': 'application/json' }, body: '{"order":1}' });
        assert.equal(res.status, 200);
        await waitFor(() => sink.records.length === 1, 'the capture');
        assert.equal(receiver.received.length, 6);
        const effects = sink.records[0]!.sideEffects;
        assert.deepEqual(essence(effects), [
          ['observed', '', '', null, false],
          ['http', 'GET', '/items/{id}', 200, false],
          ['http', 'POST', '/mail/send', 201, false],
          ['http', 'GET', '/stock/{id}', 200, false],
          ['http', 'POST', '/orders', 201, false],
          ['http', 'POST', '/payments', 201, false],
          ['http', 'PUT', '/audit/{id}', 201, false],
          ['guard', 'queue.publish', '', null, false],
        ]);
        assert.equal(effects[1]!.origin, receiver.url);
        assert.equal(effects[2]!.bodySha256, sha('{"to":"a@example.test"}'));
        assert.equal(effects[4]!.bodySha256, sha('{"qty":1}'));
      } finally {
        await server.close();
      }
    });
  }

  test('sideEffects: false records none and leaves the list empty', async () => {
    const sink = new MemorySink();
    const capture = captureMiddleware({ sink, logger: silentLogger, sideEffects: false });
    const server = await listenLocal(createServer((req, res) => capture(req, res, () => void fetch(`${receiver.url}/x`).then(() => res.end('ok')))));
    try {
      await rawRequest(server.url, { path: '/' });
      await waitFor(() => sink.records.length === 1, 'the capture');
      assert.deepEqual(sink.records[0]!.sideEffects, []);
    } finally {
      await server.close();
    }
  });
});
