import { subscribe } from 'node:diagnostics_channel';
import http from 'node:http';
import { Duplex } from 'node:stream';
import { effectPathTemplate } from '../shared/records/side-effects.js';
import type { SideEffect } from '../shared/records/types.js';
import type { Decision } from './outbound-policy.js';
import { BodyHash, currentScope } from './outbound-scope.js';
import { standInMessage } from './stand-in-answer.js';

/** Calls that were sent, for the response channel to find their entry. */
const sentEffects = new WeakMap<object, SideEffect>();
let installed = false;

interface AgentOptions {
  host?: string;
  hostname?: string;
  port?: number | string | null;
  servername?: string;
}

type AddRequest = (this: http.Agent, req: http.ClientRequest, options: AgentOptions, ...rest: unknown[]) => void;
/** addRequest is public in practice (agents override it) but absent from @types/node. */
const agentPrototype = http.Agent.prototype as unknown as { addRequest: AddRequest };

/**
 * Guards node:http and node:https requests (https.Agent inherits addRequest) made in a scope.
 *
 * Why a patch, and why this one method: on Node 20 no diagnostics channel fires before a request
 * opens its connection (`http.client.request.start` is published when the request has ended,
 * its bytes already written), and no channel can answer in place of the server. Every request
 * that goes through an agent (the default, `agent: false`, keep-alive agents) passes through
 * Agent.prototype.addRequest before any connection exists, so that is the one place patched.
 * Outside any scope it only calls the original. The status of a call that was sent comes from
 * the `http.client.response.finish` channel.
 */
export function installHttpGuard(): void {
  if (installed) return;
  installed = true;
  const addRequest = agentPrototype.addRequest;
  const guarded: AddRequest = function (this: http.Agent, req, options) {
    const scope = currentScope();
    if (!scope) return addRequest.apply(this, arguments as unknown as Parameters<AddRequest>);
    const protocol = (this as unknown as { protocol?: string }).protocol ?? 'http:';
    const origin = originOf(protocol, options.host ?? options.hostname ?? req.host, options.port);
    const effect = scope.effects.add({
      kind: 'http',
      name: req.method,
      origin,
      pathTemplate: effectPathTemplate(req.path),
      status: null,
      bodySha256: null,
      blocked: false,
    });
    hashBody(req, new BodyHash(effect));
    const decision: Decision = scope.policy ? scope.policy.decide({ method: req.method, origin, path: req.path }) : { action: 'send', origin };
    if (decision.action === 'block') {
      effect.blocked = true;
      effect.status = decision.standIn.status;
      req.onSocket(standInSocket(req, standInMessage(decision.standIn, req.method === 'HEAD')) as unknown as import('node:net').Socket);
      return;
    }
    sentEffects.set(req, effect);
    if (decision.origin === origin) return addRequest.apply(this, arguments as unknown as Parameters<AddRequest>);
    // A read-only copy: same scheme (checked when the policy was made), another host and port.
    const target = new URL(decision.origin);
    if (!req.headersSent) req.setHeader('host', target.host);
    const hostname = target.hostname.replace(/^\[|\]$/g, '');
    const port = target.port || (protocol === 'https:' ? '443' : '80');
    return addRequest.call(this, req, { ...options, host: hostname, hostname, port: Number(port), servername: hostname });
  };
  agentPrototype.addRequest = guarded;
  subscribe('http.client.response.finish', (message) => {
    const { request, response } = message as { request: object; response: http.IncomingMessage };
    const effect = sentEffects.get(request);
    if (effect) effect.status = response.statusCode ?? null;
  });
}

export function originOf(protocol: string, host: string, port: number | string | null | undefined): string {
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  try {
    return new URL(`${protocol}//${bracketed}${port ? `:${port}` : ''}`).origin;
  } catch {
    return `${protocol}//${bracketed}${port ? `:${port}` : ''}`;
  }
}

/** Hashes what the caller writes; node's own end() does not go through write(), so nothing counts twice. */
function hashBody(req: http.ClientRequest, hash: BodyHash): void {
  const { write, end } = req;
  const take = (chunk: unknown, encoding: unknown) => {
    if (typeof chunk === 'string' || chunk instanceof Uint8Array) hash.update(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : undefined);
  };
  req.write = function (this: http.ClientRequest, chunk: unknown, encoding?: unknown) {
    take(chunk, encoding);
    return (write as (...args: unknown[]) => boolean).apply(this, arguments as unknown as unknown[]);
  } as http.ClientRequest['write'];
  req.end = function (this: http.ClientRequest, chunk?: unknown, encoding?: unknown) {
    take(chunk, encoding);
    hash.end();
    return (end as (...args: unknown[]) => http.ClientRequest).apply(this, arguments as unknown as unknown[]);
  } as http.ClientRequest['end'];
}

/**
 * A socket that opens no connection: it swallows the request and, once the request has ended,
 * answers with the stand-in message, which node's HTTP parser reads like any server's answer.
 */
function standInSocket(req: http.ClientRequest, message: Buffer): Duplex {
  const socket = new Duplex({
    read() {},
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
  const self = () => socket;
  Object.assign(socket, { setTimeout: self, setNoDelay: self, setKeepAlive: self, ref: self, unref: self });
  req.once('finish', () => {
    socket.push(message);
    socket.push(null);
  });
  return socket;
}
