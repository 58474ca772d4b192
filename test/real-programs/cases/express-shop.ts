import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type express from 'express';
import { packageRoot } from '../../../shared/package-root.js';
import { listenLocal } from '../../helpers/local-server.js';
import type { RealCase } from '../real-case.js';

const require = createRequire(import.meta.url);
const site = join(packageRoot(), 'test', 'real-programs', 'site');

const products = [
  { id: 1, name: 'Lamp', author: 'studio-nord', tokens_used: 3, price: 19.5 },
  { id: 2, name: 'Chair', author: 'atelier-sud', tokens_used: 0, price: 45 },
];

/**
 * A small shop written once against Express's API and run on Express 4 and Express 5, so that
 * every difference comes from the framework: query parsing, req.host, redirects, 404 and error
 * pages, static files.
 */
function shopApp(framework: typeof express) {
  const app = framework();
  app.set('env', 'test'); // error pages as in development, without logging every error to stderr
  app.get('/api/products', (req, res) => {
    const limit = Number(req.query.limit ?? products.length);
    res.json({ items: products.slice(0, limit), total: products.length });
  });
  app.get('/api/products/:id', (req, res) => {
    const product = products.find((p) => String(p.id) === req.params.id);
    if (!product) return void res.status(404).json({ error: 'no such product' });
    res.json(product);
  });
  app.get('/api/search', (req, res) => res.json({ query: req.query }));
  app.get('/api/whoami', (req, res) =>
    res.json({ host: req.host, hostname: req.hostname, protocol: req.protocol, secure: req.secure, xhr: req.xhr, path: req.path }),
  );
  app.get('/api/echo', (req, res) => res.json({ method: req.method, url: req.originalUrl, headers: req.headers }));
  app.get('/api/session', (req, res) => {
    const auth = req.get('authorization');
    if (!auth) return void res.status(401).json({ error: 'login required' });
    res.json({ user: 'ada', scheme: auth.split(' ')[0], cookie: req.get('cookie') ?? null });
  });
  app.get('/old-catalog', (_req, res) => res.redirect(301, '/api/products'));
  app.get('/back', (_req, res) => res.redirect('back'));
  app.get('/api/fail', () => {
    throw Object.assign(new Error('inventory unavailable'), { status: 503, expose: true });
  });
  app.get('/api/status', (_req, res) => res.status(204).end());
  app.post('/api/orders', framework.json(), (req, res) => res.status(201).json({ received: req.body }));
  app.use('/static', framework.static(site));
  return app;
}

export const expressShop: RealCase = {
  name: 'express-shop',
  stable: 'express@4.22.1',
  shadow: 'express@5.3.0',
  host: 'shop.example.test',
  async start(version) {
    const framework = require(version === 'stable' ? 'express-v4' : 'express-v5') as typeof express;
    return listenLocal(createServer(shopApp(framework)));
  },
  requests: [
    { method: 'GET', path: '/api/products' },
    { method: 'GET', path: '/api/products?limit=1' },
    { method: 'GET', path: '/api/products/2' },
    { method: 'GET', path: '/api/products/99', note: 'handled 404' },
    { method: 'GET', path: '/api/search?q=lamp' },
    { method: 'GET', path: '/api/search?q=lamp&color=red&color=blue', note: 'repeated parameter' },
    { method: 'GET', path: '/api/search?filter[color]=red&filter[size]=m', note: 'qs nesting (extended parser in 4, simple in 5)' },
    { method: 'GET', path: '/api/search?tags[]=a&tags[]=b', note: 'qs brackets' },
    { method: 'GET', path: '/api/search?filter[color]=red', headers: { cookie: 'session=s%3A9f8e7d6c5b4a; theme=dark' }, note: 'a real difference on a request with credentials' },
    { method: 'GET', path: '/api/search?author=ada&tokens_used=3&passwordless=true', note: 'ordinary names that look like secrets' },
    { method: 'GET', path: '/api/search?q=lamp&token=tok_live_4eC39HqLyjWDarjtT1zdp7dc', note: 'secret in the query, echoed' },
    { method: 'GET', path: '/api/search?sort=price&api_key=AKIAIOSFODNN7EXAMPLE', note: 'key in the query, echoed' },
    { method: 'GET', path: '/api/whoami', note: 'req.host and req.hostname' },
    { method: 'GET', path: '/api/whoami', headers: { host: 'shop.example.test:8443' }, note: 'req.host with a port' },
    { method: 'GET', path: '/api/whoami', headers: { 'x-requested-with': 'XMLHttpRequest' } },
    { method: 'GET', path: '/api/echo', note: 'echoes every request header' },
    { method: 'GET', path: '/api/echo?page=2', headers: { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl' }, note: 'echoes a bearer token' },
    { method: 'GET', path: '/api/echo', headers: { cookie: 'session=s%3A9f8e7d6c5b4a; theme=dark' }, note: 'echoes a session cookie' },
    { method: 'GET', path: '/api/session', note: 'no credentials: 401' },
    { method: 'GET', path: '/api/session', headers: { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl' } },
    { method: 'GET', path: '/api/session', headers: { authorization: 'Basic YWRhOmxvdmVsYWNl', cookie: 'session=abc123; theme=dark' } },
    { method: 'GET', path: '/old-catalog', note: 'redirect with a status' },
    { method: 'GET', path: '/back', headers: { referer: 'http://shop.example.test/api/products' }, note: "res.redirect('back'), removed in 5" },
    { method: 'GET', path: '/back', note: "res.redirect('back') without a Referer" },
    { method: 'GET', path: '/api/fail', note: 'thrown error with an exposed status' },
    { method: 'GET', path: '/api/status', note: '204' },
    { method: 'GET', path: '/nowhere', note: 'default 404 page' },
    { method: 'GET', path: '/api/products/', note: 'trailing slash' },
    { method: 'GET', path: '/API/PRODUCTS/1', note: 'case-insensitive routing' },
    { method: 'HEAD', path: '/api/products' },
    { method: 'GET', path: '/static/catalog.json' },
    { method: 'GET', path: '/static/notes.txt', headers: { 'accept-encoding': 'gzip' } },
    { method: 'GET', path: '/static/docs', note: 'directory without a trailing slash' },
    { method: 'GET', path: '/static/missing.txt' },
    { method: 'GET', path: '/static/catalog.json', headers: { range: 'bytes=0-9' }, note: 'range request' },
    { method: 'GET', path: '/static/catalog.json', headers: { 'if-none-match': 'W/"nope"' } },
    { method: 'OPTIONS', path: '/api/products', note: 'automatic OPTIONS answer' },
    { method: 'GET', path: '/api/products', headers: { 'x-request-id': 'client-retry-7' }, note: 'a client request id' },
    { method: 'GET', path: '/api/products/1', headers: { 'x-request-id': 'client-retry-7' }, note: 'the same client request id on another request' },
    { method: 'POST', path: '/api/orders', headers: { 'content-type': 'application/json' }, body: '{"sku":"A1","qty":2}', note: 'unsafe method' },
  ],
};
