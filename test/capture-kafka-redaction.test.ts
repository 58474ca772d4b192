import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { startCaptureServer } from '../index.js';
import { openLog } from '../index.js';
import { captureKind } from '../shared/log/record-log.js';
import { rawRequest, silentLogger, startHttpServer, waitFor } from './helpers/capture-helpers.js';
import { kafkaBrokers, randomName, rawMessages } from './helpers/kafka-env.js';

/** A value that cannot occur in a record by chance. */
const secret = (label: string) => `${label}-${randomBytes(12).toString('hex')}`;


test('secrets in headers, query strings and JSON bodies never reach a byte of the Kafka topic', { timeout: 120_000 }, async () => {
  const s = {
    authorization: secret('authz'),
    cookie: secret('cookie'),
    apiKeyHeader: secret('x-api-key'),
    tokenParam: secret('token-param'),
    passwordParam: secret('password-param'),
    bodyPassword: secret('body-password'),
    nestedSecret: secret('client-secret'),
    arrayToken: secret('array-token'),
    gzipPassword: secret('gzip-password'),
    formPassword: secret('form-password'),
    setCookie: secret('set-cookie'),
    responseToken: secret('response-token'),
  };
  const stable = await startHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('set-cookie', `session=${s.setCookie}; HttpOnly`);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ refresh_token: s.responseToken, kept: 'response-visible' }));
    });
  });
  const topicPrefix = `${randomName('capture-secrets')}.`;
  const sink = await openLog(captureKind, { brokers: kafkaBrokers(), topicPrefix, partitions: 3 });
  const proxy = await startCaptureServer({ port: 0, upstream: stable.url, sink, logger: silentLogger });
  const headers = { authorization: `Bearer ${s.authorization}`, cookie: `sid=${s.cookie}`, 'x-api-key': s.apiKeyHeader };
  const requests: Array<{ method?: string; path: string; headers: Record<string, string>; body?: string | Buffer }> = [
    { path: `/search?q=visible-query&token=${s.tokenParam}&password=${s.passwordParam}`, headers: { ...headers, 'x-request-id': 'secrets-query' } },
    {
      method: 'POST',
      path: '/login',
      headers: { ...headers, 'content-type': 'application/json', 'x-request-id': 'secrets-json' },
      body: JSON.stringify({ user: 'body-visible', password: s.bodyPassword, app: { client_secret: s.nestedSecret }, grants: [{ access_token: s.arrayToken }] }),
    },
    {
      method: 'POST',
      path: '/login',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', 'x-request-id': 'secrets-gzip' },
      body: gzipSync(JSON.stringify({ user: 'gzip-visible', password: s.gzipPassword })),
    },
    {
      method: 'POST',
      path: '/form',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': 'secrets-form' },
      body: `user=form-visible&password=${s.formPassword}`,
    },
  ];
  try {
    for (const request of requests) assert.equal((await rawRequest(proxy.url, request)).status, 200);
    await waitFor(() => proxy.metrics.delivered === requests.length, 'the captures delivered to Kafka');
  } finally {
    await proxy.close();
    await sink.close();
    await stable.close();
  }

  const messages = await rawMessages(`${topicPrefix}captures`, requests.length);
  assert.equal(messages.length, requests.length);
  const bytes = Buffer.concat(
    messages.flatMap((m) => [m.key ?? Buffer.alloc(0), m.value ?? Buffer.alloc(0), ...Object.values(m.headers ?? {}).map((v) => Buffer.from(String(v)))]),
  );
  // The records are really there, with what is not secret: a scan of empty records would prove nothing.
  for (const visible of ['visible-query', 'body-visible', 'gzip-visible', 'form-visible', 'response-visible']) {
    assert.ok(bytes.includes(visible), `"${visible}" is recorded`);
  }
  for (const [where, value] of Object.entries(s)) {
    assert.equal(bytes.indexOf(value), -1, `the ${where} secret is in the topic`);
  }
});
