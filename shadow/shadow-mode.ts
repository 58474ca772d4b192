import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { captureIdHeader, effectsHeader, encodeEffects, guardMarkerHeader } from '../shared/records/side-effects.js';
import { EffectLog } from './effect-log.js';
import { installHttpGuard } from './outbound-http.js';
import { createOutboundPolicy, type OutboundPolicy, type OutboundPolicyOptions } from './outbound-policy.js';
import { setProcessScope, type OutboundScope } from './outbound-scope.js';
import { installFetchGuard } from './outbound-undici.js';
import { addResumeHook, beforeHead, enterScope, type FastifyHooks } from './request-scope.js';
import { hasShadowMarkers, processShadowMode } from './shadow-detection.js';

export interface ShadowModeOptions extends OutboundPolicyOptions {
  /** Where SHADOW_MODE is read; process.env by default. */
  env?: NodeJS.ProcessEnv;
}

export interface ShadowMode {
  /** Express middleware, or for node:http `shadow.middleware(req, res)` first thing in the handler. */
  middleware(req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void;
  /** node:http: `createServer(shadow.wrap(handler))`. */
  wrap(listener: RequestListener): RequestListener;
  /** Fastify: `app.register(shadow.fastify)`; applies to every route. */
  fastify(instance: FastifyHooks, options: unknown, done: (error?: Error) => void): void;
  readonly policy: OutboundPolicy;
}

/**
 * Shadow mode for a service: requests that are shadow traffic run in shadow context, where
 * isShadow() is true, outbound HTTP (fetch, undici, node:http/https) is guarded by the policy
 * and guard() stands in for other side effects. Every answer in shadow context carries the guard
 * marker and the side effects attempted before its head was written, for the replay. Requests
 * that are not shadow traffic are left untouched.
 */
export function shadowMode(options: ShadowModeOptions = {}): ShadowMode {
  const policy = createOutboundPolicy(options);
  const processMode = processShadowMode(options.env ?? process.env);
  installHttpGuard();
  installFetchGuard();
  // One process, one mode: the latest shadowMode() decides whether code outside requests is guarded.
  setProcessScope(processMode === true ? { effects: new EffectLog(), policy, captureId: null } : undefined);

  const middleware = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => {
    const shadow = processMode ?? hasShadowMarkers(req.headers);
    if (!shadow) {
      enterScope(req, undefined);
      next?.();
      return;
    }
    // The app may have replaced the global dispatcher since the last request.
    installFetchGuard();
    const id = req.headers[captureIdHeader];
    const scope: OutboundScope = { effects: new EffectLog(), policy, captureId: typeof id === 'string' ? id : null };
    res.setHeader(guardMarkerHeader, '1');
    beforeHead(res, () => res.setHeader(effectsHeader, encodeEffects(scope.effects.freeze())));
    enterScope(req, scope);
    next?.();
  };

  const fastify = (instance: FastifyHooks, _options: unknown, done: (error?: Error) => void) => {
    instance.addHook('onRequest', (request, reply, next) => middleware(request.raw, reply.raw, next));
    addResumeHook(instance);
    done();
  };
  // skip-override keeps the hooks global, as fastify-plugin does.
  Object.assign(fastify, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'shadowtap-shadow' });

  return {
    middleware,
    wrap: (listener) => (req, res) => {
      middleware(req, res);
      listener(req, res);
    },
    fastify,
    policy,
  };
}
