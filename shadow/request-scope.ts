import type { IncomingMessage, ServerResponse } from 'node:http';
import { outboundScope, type OutboundScope } from './outbound-scope.js';

const scopes = new WeakMap<IncomingMessage, OutboundScope>();

/**
 * Makes `scope` the request's outbound scope for the rest of its handling. enterWith rather than
 * run: node:http delivers a request's body events in the connection's async context, where a
 * scope entered with run() is gone, so a handler that calls out from `req.on('end')` would escape
 * it. A keep-alive connection's next request re-enters its own scope (or none) here first.
 */
export function enterScope(req: IncomingMessage, scope: OutboundScope | undefined): void {
  if (scope) {
    scopes.set(req, scope);
    outboundScope.enterWith(scope);
  } else {
    // Only a scope left over from an earlier request is dropped: another middleware (the capture
    // middleware on stable) may have entered one for this very request.
    const current = outboundScope.getStore();
    if (current !== undefined && scopes.get(req) !== current) outboundScope.enterWith(undefined as unknown as OutboundScope);
  }
}

/** Enters the request's scope again where a framework continued outside it (Fastify after parsing a body). */
export function resumeScope(req: IncomingMessage): void {
  const scope = scopes.get(req);
  if (scope && outboundScope.getStore() !== scope) outboundScope.enterWith(scope);
}

/**
 * Calls `onHead` just before the response head is written: by writeHead, or by the first
 * write()/end(), which node turns into writeHead(statusCode).
 */
export function beforeHead(res: ServerResponse, onHead: () => void): void {
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse) {
    try {
      onHead();
    } catch {
      // Reporting must never break the answer.
    }
    return (writeHead as (...args: unknown[]) => ServerResponse).apply(this, arguments as unknown as unknown[]);
  } as ServerResponse['writeHead'];
}

/** The parts of Fastify the plugins use, so Fastify stays a dev dependency. */
export interface FastifyHooks {
  addHook(name: 'onRequest' | 'preHandler', hook: (request: { raw: IncomingMessage }, reply: { raw: ServerResponse }, done: () => void) => void): unknown;
}

/** Fastify parses a body outside the request's async context: the scope is entered again before the handler. */
export function addResumeHook(fastify: FastifyHooks): void {
  fastify.addHook('preHandler', (request, _reply, done) => {
    resumeScope(request.raw);
    done();
  });
}
