import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { describe, test } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import { captureFastifyPlugin, captureMiddleware, startCaptureServer } from '../index.js';
import type { Capture } from '../shared/records/types.js';
import { headerValue } from '../shared/records/types.js';
import { MemorySink, rawRequest, silentLogger, startHttpServer, waitFor } from './helpers/capture-helpers.js';
import { listenLocal } from './helpers/local-server.js';

/** The one exchange every variant must record alike. */
const exchange = {
  method: 'POST',
  path: '/items',
  query: 'verbose=1',
  body: '{"name":"lamp","qty":2}',
  headers: { 'content-type': 'application/json', 'x-request-id': 'mw-1' },
};
const answer = (parsed: unknown) => JSON.stringify({ created: parsed });

function nodeHandler(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    res.writeHead(201, { 'content-type': 'application/json', 'x-app': 'yes' });
    res.end(answer(JSON.parse(Buffer.concat(chunks).toString())));
  });
}

/** The parts of a capture that do not depend on the framework around the app. */
function essence(capture: Capture) {
  return {
    clientRequestId: capture.clientRequestId,
    method: capture.request.method,
    path: capture.request.path,
    query: capture.request.query,
    requestBody: capture.request.body.toString(),
    requestSize: capture.request.size,
    requestSha256: capture.request.sha256,
    responseSha256: capture.response?.sha256,
    contentType: headerValue(capture.request.headers, 'content-type'),
    status: capture.response?.status,
    responseBody: capture.response?.body.toString(),
    responseType: headerValue(capture.response?.headers ?? [], 'content-type')?.split(';')[0],
    app: headerValue(capture.response?.headers ?? [], 'x-app'),
    upstreamError: capture.upstreamError,
  };
}

async function send(url: string): Promise<void> {
  const res = await rawRequest(url, { method: exchange.method, path: `${exchange.path}?${exchange.query}`, headers: exchange.headers, body: exchange.body });
  assert.equal(res.status, 201);
  assert.equal(res.body.toString(), answer(JSON.parse(exchange.body)));
}

async function viaProxy(): Promise<Capture> {
  const stable = await startHttpServer(nodeHandler);
  const sink = new MemorySink();
  const proxy = await startCaptureServer({ port: 0, upstream: stable.url, sink, logger: silentLogger });
  await send(proxy.url);
  await proxy.close();
  await stable.close();
  assert.equal(sink.records.length, 1);
  return sink.records[0];
}

describe('capture middleware records what the proxy records', () => {
  let reference: ReturnType<typeof essence>;

  test('proxy reference', async () => {
    reference = essence(await viaProxy());
    assert.equal(reference.requestBody, exchange.body);
    assert.equal(reference.requestSha256, createHash('sha256').update(exchange.body).digest('hex'));
  });

  test('node:http', async () => {
    const sink = new MemorySink();
    const capture = captureMiddleware({ sink, logger: silentLogger });
    const server = await listenLocal(createServer((req, res) => capture(req, res, () => nodeHandler(req, res))));
    try {
      await send(server.url);
      await waitFor(() => sink.records.length === 1, 'the node:http capture');
      assert.deepEqual(essence(sink.records[0]), reference);
      assert.equal(capture.metrics.requests, 1);
    } finally {
      await capture.close();
      await server.close();
    }
  });

  test('Express (mounted before the body parser)', async () => {
    const sink = new MemorySink();
    const capture = captureMiddleware({ sink, logger: silentLogger });
    const app = express();
    app.use(capture);
    app.use(express.json());
    app.post('/items', (req, res) => {
      res.status(201).set('x-app', 'yes').type('application/json').send(answer(req.body));
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      await send(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
      await waitFor(() => sink.records.length === 1, 'the Express capture');
      assert.deepEqual(essence(sink.records[0]), reference);
    } finally {
      await capture.close();
      server.closeAllConnections();
      server.close();
    }
  });

  test('Fastify (plugin)', async () => {
    const sink = new MemorySink();
    const app = Fastify();
    await app.register(captureFastifyPlugin, { sink, logger: silentLogger });
    app.post('/items', async (request, reply) => {
      reply.code(201).header('x-app', 'yes').type('application/json');
      return answer(request.body);
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      await send(url);
      await waitFor(() => sink.records.length === 1, 'the Fastify capture');
      assert.deepEqual(essence(sink.records[0]), reference);
    } finally {
      await app.close();
    }
  });
});

describe('capture middleware records the response head as it went out, through public API only', () => {
  /** Each way an app writes its head; the capture must hold what the client received. */
  const heads: Record<string, (res: ServerResponse) => void> = {
    'writeHead with an object, nothing set before': (res) => res.writeHead(200, { 'Content-Type': 'text/plain', 'X-One': ['a', 'b'] }).end('whole body'),
    'writeHead with a flat list keeps order and duplicates': (res) =>
      res.writeHead(200, ['X-Tag', 'a', 'X-Mid', 'm', 'X-Tag', 'b']).end('whole body'),
    'setHeader, then writeHead with an object that replaces one in place': (res) => {
      res.setHeader('X-First', '1');
      res.setHeader('Content-Type', 'text/html');
      res.setHeader('X-Last', 'z');
      res.writeHead(202, 'Taken', { 'content-type': 'text/plain', 'X-New': 'n' }).end('whole body');
    },
    'setHeader, then writeHead with a list': (res) => {
      res.setHeader('X-Twice', 'old');
      res.setHeader('X-Keep', 'k');
      res.writeHead(200, ['X-Twice', 'new-1', 'X-Twice', 'new-2']).end();
    },
    'implicit head by end(): node adds the length': (res) => {
      res.statusCode = 203;
      res.setHeader('X-Case', 'Kept');
      res.end('whole body');
    },
    'implicit head by write(): chunked, no length': (res) => {
      res.setHeader('Content-Type', 'text/plain');
      res.write('part one, ');
      res.end('part two');
    },
    'an app-set length and no date': (res) => {
      res.sendDate = false;
      res.setHeader('Content-Length', '4');
      res.end('four');
    },
    '204 gets no length': (res) => res.writeHead(204).end(),
  };

  for (const [name, writeHead] of Object.entries(heads)) {
    test(name, async () => {
      const sink = new MemorySink();
      const capture = captureMiddleware({ sink, logger: silentLogger, sideEffects: false });
      const server = await listenLocal(createServer((req, res) => capture(req, res, () => writeHead(res))));
      try {
        const received = await rawRequest(server.url, { path: '/head' });
        await waitFor(() => sink.records.length === 1, 'the capture');
        const recorded = sink.records[0].response!.headers;
        const pairs = (headers: string[][]) => headers.filter(([n]) => n.toLowerCase() !== 'date');
        // Names with their case, values and order, as on the wire (the Date value may tick over a second).
        const wire: string[][] = [];
        for (let i = 0; i < received.rawHeaders.length; i += 2) {
          if (!['connection', 'keep-alive', 'transfer-encoding'].includes(received.rawHeaders[i].toLowerCase())) wire.push([received.rawHeaders[i], received.rawHeaders[i + 1]]);
        }
        assert.deepEqual(pairs(recorded.map((h) => [h.name, h.value])), pairs(wire));
        assert.equal(headerValue(recorded, 'date') === undefined, headerValue(wire.map(([n, v]) => ({ name: n, value: v })), 'date') === undefined);
        assert.equal(sink.records[0].response!.status, received.status);
      } finally {
        await capture.close();
        await server.close();
      }
    });
  }
});
