import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from '../../../shared/package-root.js';
import { listenLocal } from '../../helpers/local-server.js';
import type { RealCase } from '../real-case.js';

const require = createRequire(import.meta.url);
const site = join(packageRoot(), 'test', 'real-programs', 'site');

interface HttpServerModule {
  createServer(options: { root: string }): { server: Server };
}

/** The static file server `npx http-server` runs, 0.12 against 14, on the same folder with its defaults. */
export const httpServer: RealCase = {
  name: 'http-server',
  stable: 'http-server@0.12.3',
  shadow: 'http-server@14.1.1',
  host: 'static.example.test',
  async start(version) {
    const module = require(version === 'stable' ? 'http-server-v0' : 'http-server-v14') as HttpServerModule;
    return listenLocal(module.createServer({ root: site }).server);
  },
  requests: [
    { method: 'GET', path: '/', note: 'index.html of the root' },
    { method: 'GET', path: '/index.html' },
    { method: 'GET', path: '/catalog.json' },
    { method: 'GET', path: '/notes.txt', headers: { 'accept-encoding': 'gzip, br' } },
    { method: 'GET', path: '/app.js' },
    { method: 'GET', path: '/docs', note: 'directory without a trailing slash' },
    { method: 'GET', path: '/docs/', note: 'directory listing' },
    { method: 'GET', path: '/docs/?sort=name', note: 'directory listing with a query' },
    { method: 'GET', path: '/docs/', headers: { authorization: 'Basic YWRhOmxvdmVsYWNl' }, note: 'a real difference on a request with credentials' },
    { method: 'GET', path: '/docs/guide.html' },
    { method: 'GET', path: '/docs/CHANGES.md' },
    { method: 'GET', path: '/missing.html', note: '404 page' },
    { method: 'GET', path: '/docs/missing/', note: 'missing directory' },
    { method: 'GET', path: '/catalog.json', headers: { range: 'bytes=0-15' }, note: 'range request' },
    { method: 'GET', path: '/catalog.json', headers: { range: 'bytes=500-600' }, note: 'unsatisfiable range' },
    { method: 'GET', path: '/catalog.json', headers: { 'if-modified-since': 'Sat, 01 Jan 2000 00:00:00 GMT' } },
    { method: 'GET', path: '/%2e%2e/package.json', note: 'path traversal attempt' },
    { method: 'GET', path: '/notes.txt?token=tok_live_4eC39HqLyjWDarjtT1zdp7dc', note: 'a secret in the query of a static file' },
    { method: 'GET', path: '/catalog.json?author=ada&tokens_used=1', note: 'ordinary names that look like secrets' },
    { method: 'GET', path: '/index.html', headers: { authorization: 'Basic YWRhOmxvdmVsYWNl', cookie: 'session=9f8e7d6c5b4a' }, note: 'credentials a static server ignores' },
    { method: 'GET', path: '/docs/guide.html', headers: { 'x-api-key': 'sk_live_51H8xY2eZvKYlo2C0aBcDeFgH' } },
    { method: 'HEAD', path: '/catalog.json' },
    { method: 'OPTIONS', path: '/catalog.json' },
    { method: 'POST', path: '/notes.txt', headers: { 'content-type': 'text/plain' }, body: 'hello', note: 'unsafe method' },
  ],
};
