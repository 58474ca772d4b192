import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http, { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import { shadowMode, type ShadowMode } from '../shadow/index.js';
import { decodeEffects, effectsHeader, guardMarkerHeader } from '../shared/records/side-effects.js';
import { rawRequest } from './helpers/capture-helpers.js';
import { listenLocal, type LocalServer } from './helpers/local-server.js';
import { callOut, composed, published } from './helpers/outbound-calls.js';
import { startOutboundReceiver, type OutboundReceiver } from './helpers/outbound-receiver.js';

interface App {
  name: string;
  start(shadow: ShadowMode, receiver: string): Promise<LocalServer & { closeApp?: () => Promise<void> }>;
}

const apps: App[] = [
  {
    name: 'node:http',
    start: (shadow, receiver) =>
      listenLocal(
        createServer(
          shadow.wrap((req: IncomingMessage, res: ServerResponse) => {
            req.resume();
            // The body's end event comes in the connection's async context: the scope must hold there.
            req.on('end', () => {
              void callOut(receiver).then((seen) => {
                res.writeHead(200, { 'content-type': 'application/json' });
                res.end(JSON.stringify(seen));
              });
            });
          }),
        ),
      ),
  },
  {
    name: 'Express',
    start: (shadow, receiver) => {
      const app = express();
      app.use(shadow.middleware);
      app.use(express.json());
      app.post('/work', async (_req, res) => {
        res.json(await callOut(receiver));
      });
      return listenLocal(http.createServer(app));
    },
  },
  {
    name: 'Fastify',
    start: async (shadow, receiver) => {
      const app = Fastify();
      await app.register(shadow.fastify);
      app.post('/work', async () => callOut(receiver));
      await app.ready();
      const server = await listenLocal(app.server);
      return { ...server, close: () => app.close() };
    },
  },
];

const shadowHeaders = { 'x-shadowtap-replay': '1', 'X-Mirrored-Request': 'true', 'x-shadowtap-capture-id': 'cap-7', 'content-type': 'application/json' };

describe('shadow mode on real apps with a real outbound service', () => {
  let receiver: OutboundReceiver;
  let shadow: ShadowMode;
  before(async () => {
    receiver = await startOutboundReceiver();
    shadow = shadowMode({ env: {} });
  });
  after(async () => {
    await receiver.close();
    await composed.close();
  });

  for (const app of apps) {
    test(`${app.name}: in shadow context no unsafe call reaches the service, safe ones do, and the answer reports them`, async () => {
      const server = await app.start(shadow, receiver.url);
      try {
        receiver.received.length = 0;
        const before = published;
        const res = await rawRequest(server.url, { method: 'POST', path: '/work', headers: shadowHeaders, body: '{"order":1}' });
        assert.equal(res.status, 200);
        const seen = JSON.parse(res.body.toString());
        assert.deepEqual(seen, {
          shadow: true,
          captureId: 'cap-7',
          statuses: { fetchGet: 200, fetchPost: 202, standInHeader: 1, httpGet: 200, httpPost: 202, undiciPost: 202, composedPut: 202, guard: -1 },
        });
        assert.deepEqual(receiver.received.sort(), ['GET /items/42', 'GET /stock/7']);
        assert.equal(published, before, 'the guarded action did not run');
        const header = (name: string) => res.rawHeaders[res.rawHeaders.findIndex((h, i) => i % 2 === 0 && h.toLowerCase() === name) + 1];
        assert.equal(header(guardMarkerHeader), '1');
        const effects = decodeEffects(header(effectsHeader)!);
        const origin = receiver.url;
        assert.deepEqual(
          effects.map((e) => [e.kind, e.name, e.origin, e.pathTemplate, e.status, e.blocked]),
          [
            ['http', 'GET', origin, '/items/{id}', 200, false],
            ['http', 'POST', origin, '/mail/send', 202, true],
            ['http', 'GET', origin, '/stock/{id}', 200, false],
            ['http', 'POST', origin, '/orders', 202, true],
            ['http', 'POST', origin, '/payments', 202, true],
            ['http', 'PUT', origin, '/audit/{id}', 202, true],
            ['guard', 'queue.publish', '', '', null, true],
          ],
        );
        const sha = (text: string) => createHash('sha256').update(text).digest('hex');
        assert.equal(effects[1]!.bodySha256, sha('{"to":"a@example.test"}'));
        assert.equal(effects[3]!.bodySha256, sha('{"qty":1}'));
        assert.equal(effects[4]!.bodySha256, sha('charge'));
      } finally {
        await server.close();
      }
    });

    test(`${app.name}: outside shadow context every call passes untouched`, async () => {
      const server = await app.start(shadow, receiver.url);
      try {
        receiver.received.length = 0;
        const before = published;
        const res = await rawRequest(server.url, { method: 'POST', path: '/work', headers: { 'content-type': 'application/json' }, body: '{"order":1}' });
        const seen = JSON.parse(res.body.toString());
        assert.deepEqual(seen, {
          shadow: false,
          captureId: null,
          statuses: { fetchGet: 200, fetchPost: 201, standInHeader: 0, httpGet: 200, httpPost: 201, undiciPost: 201, composedPut: 201, guard: before + 1 },
        });
        assert.deepEqual(receiver.received.sort(), ['GET /items/42', 'GET /stock/7', 'POST /mail/send', 'POST /orders', 'POST /payments', 'PUT /audit/9']);
        assert.ok(!res.rawHeaders.some((h) => h.toLowerCase() === guardMarkerHeader || h.toLowerCase() === effectsHeader));
      } finally {
        await server.close();
      }
    });
  }
});
