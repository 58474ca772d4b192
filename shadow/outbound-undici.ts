import { subscribe } from 'node:diagnostics_channel';
import { effectPathTemplate } from '../shared/records/side-effects.js';
import type { SideEffect } from '../shared/records/types.js';
import type { Decision, StandIn } from './outbound-policy.js';
import { BodyHash, currentScope } from './outbound-scope.js';
import { standInBody, standInHeaders } from './stand-in-answer.js';

/** The parts of undici's dispatch options the guard reads; the rest pass through as they are. */
export interface DispatchOptions {
  origin?: string | URL;
  method: string;
  path: string;
  body?: unknown;
  [option: string]: unknown;
}
/** An undici dispatch handler, either API: the controller one (onRequestStart…) or the older one (onConnect…). */
export type DispatchHandler = Record<string, unknown>;
export type Dispatch = (options: DispatchOptions, handler: DispatchHandler) => boolean;

/** The call being dispatched, for the request-create channel (published synchronously inside dispatch). */
let dispatching: SideEffect | undefined;
const sentEffects = new WeakMap<object, SideEffect>();
let channelsSubscribed = false;

/**
 * Wraps an undici dispatch function: outside any scope it calls it as it is; in a scope it
 * records the call, and in shadow context sends it (to its read-only copy for safe methods when
 * one is configured) or answers the handler with the stand-in without sending anything. Statuses
 * of sent calls come from undici's diagnostics channels, which both Node's bundled undici (global
 * fetch) and the undici package publish.
 */
export function guardDispatch(dispatch: Dispatch): Dispatch {
  subscribeChannels();
  return (options, handler) => {
    const scope = currentScope();
    if (!scope) return dispatch(options, handler);
    const origin = originString(options.origin);
    const effect = scope.effects.add({
      kind: 'http',
      name: options.method.toUpperCase(),
      origin,
      pathTemplate: effectPathTemplate(options.path),
      status: null,
      bodySha256: null,
      blocked: false,
    });
    const hash = new BodyHash(effect);
    const decision: Decision = scope.policy ? scope.policy.decide({ method: options.method, origin, path: options.path }) : { action: 'send', origin };
    if (decision.action === 'block') {
      effect.blocked = true;
      effect.status = decision.standIn.status;
      const { standIn } = decision;
      consumeBody(options.body, hash).then(
        () => answer(handler, standIn, options.method.toUpperCase() === 'HEAD'),
        (error: unknown) => fail(handler, error),
      );
      return true;
    }
    const body = hashedBody(options.body, hash);
    dispatching = effect;
    try {
      return dispatch(decision.origin === origin && body === options.body ? options : { ...options, origin: decision.origin, body }, handler);
    } finally {
      dispatching = undefined;
    }
  };
}

function subscribeChannels(): void {
  if (channelsSubscribed) return;
  channelsSubscribed = true;
  subscribe('undici:request:create', (message) => {
    if (dispatching) sentEffects.set((message as { request: object }).request, dispatching);
  });
  subscribe('undici:request:headers', (message) => {
    const { request, response } = message as { request: object; response: { statusCode: number } };
    const effect = sentEffects.get(request);
    if (effect) effect.status = response.statusCode;
  });
}

function originString(origin: string | URL | undefined): string {
  if (origin === undefined) return '';
  try {
    return new URL(String(origin)).origin;
  } catch {
    return String(origin);
  }
}

function isAsyncIterable(body: unknown): body is AsyncIterable<string | Uint8Array> {
  return typeof body === 'object' && body !== null && Symbol.asyncIterator in body;
}

/** The body to send in its place: the same bytes, hashed as they go. Bodies of other kinds (a Blob, FormData) keep no hash. */
function hashedBody(body: unknown, hash: BodyHash): unknown {
  if (body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array) {
    if (body) hash.update(body as string | Uint8Array);
    hash.end();
    return body;
  }
  if (!isAsyncIterable(body)) return body;
  return (async function* () {
    for await (const chunk of body) {
      hash.update(chunk);
      yield chunk;
    }
    hash.end();
  })();
}

/** Reads a blocked call's body (the caller may be waiting for it to be taken), hashing it. */
async function consumeBody(body: unknown, hash: BodyHash): Promise<void> {
  const hashed = hashedBody(body, hash);
  if (hashed !== body && isAsyncIterable(hashed)) for await (const _ of hashed);
}

const noop = () => undefined;

/** Plays the stand-in answer into the handler through whichever handler API it speaks. */
function answer(handler: DispatchHandler, standIn: StandIn, head: boolean): void {
  const body = standInBody(standIn);
  const headers = standInHeaders(standIn, body.length);
  const call = (name: string, ...args: unknown[]) => (handler[name] as ((...a: unknown[]) => unknown) | undefined)?.apply(handler, args);
  if (typeof handler.onRequestStart === 'function' || typeof handler.onResponseStart === 'function') {
    const controller = { abort: noop, pause: noop, resume: noop, aborted: false, paused: false, rawHeaders: headers.flat().map((v) => Buffer.from(v)), rawTrailers: [] };
    call('onRequestStart', controller, {});
    call('onResponseStart', controller, standIn.status, Object.fromEntries(headers), '');
    if (!head && body.length > 0) call('onResponseData', controller, body);
    call('onResponseEnd', controller, {});
    return;
  }
  call('onConnect', noop, null);
  call('onHeaders', standIn.status, headers.flat().map((v) => Buffer.from(v)), noop, '');
  if (!head && body.length > 0) call('onData', body);
  call('onComplete', []);
}

function fail(handler: DispatchHandler, error: unknown): void {
  if (typeof handler.onResponseError === 'function') (handler.onResponseError as (c: unknown, e: unknown) => void).call(handler, { abort: noop }, error);
  else if (typeof handler.onError === 'function') (handler.onError as (e: unknown) => void).call(handler, error);
}

const globalDispatcherSymbols = [Symbol.for('undici.globalDispatcher.1'), Symbol.for('undici.globalDispatcher.2')];
const guardedDispatchers = new WeakSet<object>();

type GlobalSlots = Record<symbol, object | undefined>;

/**
 * Guards global fetch (Node's bundled undici) and the undici package's own global dispatcher:
 * both keep their dispatcher under the same global symbols, so the dispatcher found there is
 * wrapped in one that routes `dispatch` through guardDispatch. Node creates it on the first
 * fetch; a data: URL fetch, which opens no connection, makes it exist now. Called again per
 * request in shadow context, it wraps a dispatcher the app installed since.
 */
export function installFetchGuard(): void {
  const slots = globalThis as unknown as GlobalSlots;
  if (slots[globalDispatcherSymbols[0]!] === undefined && typeof globalThis.fetch === 'function') {
    globalThis.fetch('data:,').then(
      (response) => response.body?.cancel(),
      () => undefined,
    );
  }
  const inner = slots[globalDispatcherSymbols[0]!];
  if (!inner || guardedDispatchers.has(inner)) return;
  const target = inner as { dispatch: Dispatch };
  const dispatch = guardDispatch(target.dispatch.bind(target));
  // Methods bound once each: the dispatcher's own code keeps running against the real object.
  const bound = new Map<PropertyKey, { from: unknown; to: unknown }>();
  const wrapper = new Proxy(target, {
    get(object, property) {
      if (property === 'dispatch') return dispatch;
      const value: unknown = Reflect.get(object, property, object);
      if (typeof value !== 'function') return value;
      let cached = bound.get(property);
      if (cached?.from !== value) bound.set(property, (cached = { from: value, to: value.bind(object) }));
      return cached.to;
    },
  });
  guardedDispatchers.add(wrapper);
  for (const symbol of globalDispatcherSymbols) if (symbol === globalDispatcherSymbols[0] || slots[symbol] !== undefined) slots[symbol] = wrapper;
}

/**
 * An undici interceptor for dispatchers the app builds itself, which the global guard does not
 * see: `new Agent().compose(shadowInterceptor())`.
 */
export function shadowInterceptor<D extends (options: never, handler: never) => boolean>(): (dispatch: D) => D {
  return (dispatch) => guardDispatch(dispatch as unknown as Dispatch) as unknown as D;
}
