import { createRequire } from 'node:module';
import type fastifyModule from 'fastify';
import { listenLocal } from '../../helpers/local-server.js';
import type { RealCase } from '../real-case.js';

const require = createRequire(import.meta.url);

const items = [
  { id: 1, name: 'Lamp', author: 'studio-nord', price: 19.5, stock: 4 },
  { id: 2, name: 'Chair', author: 'atelier-sud', price: 45, stock: 0 },
  { id: 3, name: 'Desk', author: 'studio-nord', price: 120, stock: 2 },
];

/**
 * A catalog service written once against Fastify's API (full JSON schemas, as both majors
 * accept) and run on Fastify 4 and Fastify 5: validation, serialization, hostname, redirects,
 * error and 404 payloads come from the framework.
 */
async function catalogApp(fastify: typeof fastifyModule) {
  const app = fastify({ logger: false });
  app.get(
    '/api/items',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, default: 10 }, tag: { type: 'array', items: { type: 'string' } } },
        },
      },
    },
    async (request) => {
      const { limit, tag } = request.query as { limit: number; tag?: string[] };
      return { items: items.slice(0, limit), tags: tag ?? [] };
    },
  );
  app.get(
    '/api/items/:id',
    {
      schema: {
        params: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] },
        response: { 200: { type: 'object', properties: { id: { type: 'integer' }, name: { type: 'string' }, price: { type: 'number' } } } },
      },
    },
    async (request, reply) => {
      const item = items.find((i) => i.id === (request.params as { id: number }).id);
      if (!item) return reply.code(404 as 200).send({ error: 'no such item' } as never);
      return item;
    },
  );
  app.get('/api/whoami', async (request) => ({ hostname: request.hostname, protocol: request.protocol, url: request.url }));
  app.get('/api/echo', async (request) => ({ query: request.query, headers: request.headers }));
  app.get('/api/session', async (request, reply) => {
    const auth = request.headers.authorization;
    if (!auth) return reply.code(401).send({ error: 'login required' });
    return { user: 'ada', scheme: auth.split(' ')[0], hasCookie: Boolean(request.headers.cookie) };
  });
  app.get('/old-items', async (_request, reply) => reply.redirect('/api/items', 301));
  // Fastify 4 code, as written before 5 removed these: redirect(code, url), request.connection, request.routerPath.
  const v4Reply = (reply: unknown) => reply as { redirect(code: number, url: string): unknown };
  app.get('/legacy-items', async (_request, reply) => v4Reply(reply).redirect(301, '/api/items'));
  app.get('/api/peer', async (request) => ({ address: (request as unknown as { connection: { remoteAddress: string } }).connection.remoteAddress }));
  app.get('/api/route', async (request) => ({ route: (request as unknown as { routerPath?: string }).routerPath ?? null, method: request.method }));
  app.get('/api/fail', async () => {
    throw new Error('warehouse offline');
  });
  app.get('/api/teapot', async (_request, reply) => reply.code(418).type('text/plain').send('short and stout'));
  app.get('/api/empty', async (_request, reply) => reply.code(200).send());
  app.post('/api/orders', async (request, reply) => reply.code(201).send({ received: request.body }));
  await app.ready();
  return app;
}

export const fastifyCatalog: RealCase = {
  name: 'fastify-catalog',
  stable: 'fastify@4.29.1',
  shadow: 'fastify@5.12.8',
  host: 'catalog.example.test:8080',
  async start(version) {
    const app = await catalogApp(require(version === 'stable' ? 'fastify-v4' : 'fastify-v5') as typeof fastifyModule);
    return listenLocal(app.server);
  },
  requests: [
    { method: 'GET', path: '/api/items' },
    { method: 'GET', path: '/api/items?limit=2' },
    { method: 'GET', path: '/api/items?limit=0', note: 'validation error' },
    { method: 'GET', path: '/api/items?limit=two', note: 'validation error' },
    { method: 'GET', path: '/api/items?tag=a&tag=b' },
    { method: 'GET', path: '/api/items?tag=solo', note: 'one value coerced to an array' },
    { method: 'GET', path: '/api/items/1', note: 'response schema drops undeclared fields' },
    { method: 'GET', path: '/api/items/9' },
    { method: 'GET', path: '/api/items/abc', note: 'params validation error' },
    { method: 'GET', path: '/api/whoami', note: 'request.hostname, with the port in 4, without in 5' },
    { method: 'GET', path: '/api/route?token=tok_live_4eC39HqLyjWDarjtT1zdp7dc', note: 'a real difference on a request with credentials' },
    { method: 'GET', path: '/api/echo?q=lamp', note: 'echoes every request header' },
    { method: 'GET', path: '/api/echo?author=ada&tokens_used=3', note: 'ordinary names that look like secrets' },
    { method: 'GET', path: '/api/echo?access_token=ya29.a0AfH6SMBx3Jq8', headers: { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl' }, note: 'secrets echoed' },
    { method: 'GET', path: '/api/session' },
    { method: 'GET', path: '/api/session', headers: { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl', cookie: 'sid=s%3A0a1b2c3d4e' } },
    { method: 'GET', path: '/api/session', headers: { authorization: 'Basic YWRhOmxvdmVsYWNl' } },
    { method: 'GET', path: '/old-items', note: 'reply.redirect(url, code): the argument order changed in 5' },
    { method: 'GET', path: '/legacy-items', note: 'reply.redirect(code, url), removed in 5' },
    { method: 'GET', path: '/api/peer', note: 'request.connection, removed in 5' },
    { method: 'GET', path: '/api/route', note: 'request.routerPath, removed in 5' },
    { method: 'GET', path: '/api/items;jsessionid=0a1b2c3d', note: 'semicolon delimiter, on by default in 4, off in 5' },
    { method: 'GET', path: '/api/fail', note: 'thrown error' },
    { method: 'GET', path: '/api/teapot' },
    { method: 'GET', path: '/api/empty' },
    { method: 'GET', path: '/api/nowhere', note: 'default 404' },
    { method: 'GET', path: '/api/items/', note: 'trailing slash' },
    { method: 'HEAD', path: '/api/items' },
    { method: 'OPTIONS', path: '/api/items' },
    { method: 'POST', path: '/api/orders', headers: { 'content-type': 'application/json' }, body: '{"id":1,"qty":2}', note: 'unsafe method' },
  ],
};
