import { createServer, type RequestListener } from 'node:http';
import { createRequire } from 'node:module';
import { listenLocal } from '../../helpers/local-server.js';
import type { RealCase } from '../real-case.js';

const require = createRequire(import.meta.url);

/** A db.json as json-server users write it: plural resources, a singular one, relations by `<name>Id`. */
const db = {
  posts: [
    { id: '1', title: 'json-server', author: 'typicode', views: 100, tags: ['rest', 'mock'] },
    { id: '2', title: 'shadow traffic', author: 'ada', views: 250, tags: ['ops'] },
    { id: '3', title: 'diffy', author: 'twitter', views: 75, tags: [] },
    { id: '4', title: 'canary', author: 'ada', views: 300, tags: ['ops', 'release'] },
  ],
  comments: [
    { id: '1', body: 'nice', postId: '1', authorId: 7 },
    { id: '2', body: 'agreed', postId: '1', authorId: 8 },
    { id: '3', body: 'how?', postId: '2', authorId: 7 },
  ],
  users: [
    { id: '7', name: 'Ada', email: 'ada@example.test', sessions_count: 3, auth_method: 'passkey' },
    { id: '8', name: 'Grace', email: 'grace@example.test', sessions_count: 1, auth_method: 'password' },
  ],
  profile: { name: 'typicode', tokens_used: 42 },
};

interface JsonServerV0 {
  create(): RequestListener & { use(...handlers: unknown[]): void };
  router(data: object): unknown;
  defaults(options: { logger: boolean; static?: string }): unknown[];
}

async function listener(version: 'stable' | 'shadow'): Promise<RequestListener> {
  const data = structuredClone(db);
  if (version === 'stable') {
    const jsonServer = require('json-server-v0') as JsonServerV0;
    const app = jsonServer.create();
    // json-server's CLI defaults, without its request log and with no ./public folder to serve.
    app.use(jsonServer.defaults({ logger: false, static: '/nonexistent-public' }));
    app.use(jsonServer.router(data));
    return app;
  }
  const { createApp } = await import('json-server-v1/lib/app.js');
  // What json-server 1's CLI builds from db.json (lowdb over the file), in memory.
  const app = createApp({ data, read: async () => {}, write: async () => {} } as never, { logger: false, static: [] });
  return (req, res) => void app.attach(req as never, res as never);
}

/** json-server's 0.17 line against its 1.0 rewrite, the same db.json, no code of ours around it. */
export const jsonServer: RealCase = {
  name: 'json-server',
  stable: 'json-server@0.17.4',
  shadow: 'json-server@1.0.0-beta.3',
  host: 'api.example.test',
  async start(version) {
    return listenLocal(createServer(await listener(version)));
  },
  requests: [
    { method: 'GET', path: '/posts' },
    { method: 'GET', path: '/posts/1' },
    { method: 'GET', path: '/posts/99', note: 'missing item' },
    { method: 'GET', path: '/posts?author=ada', note: 'filter on an ordinary field named author' },
    { method: 'GET', path: '/posts?title=diffy' },
    { method: 'GET', path: '/posts?views_gte=100', note: 'operator syntax of 0.17' },
    { method: 'GET', path: '/posts?views:gte=100', note: 'operator syntax of 1.0' },
    { method: 'GET', path: '/posts?_sort=views&_order=desc', note: 'sort syntax of 0.17' },
    { method: 'GET', path: '/posts?_sort=-views', note: 'sort syntax of 1.0' },
    { method: 'GET', path: '/posts?_sort=views&_order=desc', headers: { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI3In0.c2lnbmF0dXJl' }, note: 'a real difference on a request with credentials' },
    { method: 'GET', path: '/posts?_page=1&_limit=2', note: 'pagination of 0.17' },
    { method: 'GET', path: '/posts?_page=1&_per_page=2', note: 'pagination of 1.0' },
    { method: 'GET', path: '/posts?_start=1&_end=3' },
    { method: 'GET', path: '/posts?_start=1&_limit=2' },
    { method: 'GET', path: '/posts?q=canary', note: 'full-text search of 0.17' },
    { method: 'GET', path: '/posts?_embed=comments' },
    { method: 'GET', path: '/posts/1?_embed=comments' },
    { method: 'GET', path: '/comments?_expand=post', note: '_expand of 0.17' },
    { method: 'GET', path: '/comments?postId=1' },
    { method: 'GET', path: '/posts/1/comments', note: 'nested route of 0.17' },
    { method: 'GET', path: '/comments/2' },
    { method: 'GET', path: '/users' },
    { method: 'GET', path: '/users/7', headers: { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI3In0.c2lnbmF0dXJl' }, note: 'credentials the server ignores' },
    { method: 'GET', path: '/users?auth_method=passkey', headers: { cookie: 'session=9f8e7d6c5b4a3f2e1d0c' } },
    { method: 'GET', path: '/users?token=tok_live_4eC39HqLyjWDarjtT1zdp7dc', note: 'a secret the server takes for a filter' },
    { method: 'GET', path: '/profile' },
    { method: 'GET', path: '/db', note: 'whole database route of 0.17' },
    { method: 'GET', path: '/nothing-here' },
    { method: 'GET', path: '/posts', headers: { origin: 'http://app.example.test' }, note: 'CORS request' },
    { method: 'OPTIONS', path: '/posts', headers: { origin: 'http://app.example.test', 'access-control-request-method': 'GET' }, note: 'CORS preflight' },
    { method: 'HEAD', path: '/posts/2' },
    { method: 'POST', path: '/posts', headers: { 'content-type': 'application/json' }, body: '{"title":"new","author":"ada","views":0}', note: 'unsafe method' },
  ],
};
