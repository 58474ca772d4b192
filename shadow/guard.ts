import { currentScope } from './outbound-scope.js';

/**
 * Wraps a side effect that is not outbound HTTP (a database insert, a queue publish, an email):
 * in shadow context `fn` is not called and `standIn` answers (a function stand-in is called, so
 * it can validate instead of act, as the article's shadow branch does); elsewhere `fn` runs.
 * Either way the action is recorded under `name`, on stable by the capture middleware and on the
 * shadow for the replay, so the diff can say "stable sent mail.send once, the shadow tried twice".
 */
export async function guard<T>(name: string, fn: () => T | Promise<T>, standIn: T | (() => T | Promise<T>)): Promise<T> {
  const scope = currentScope();
  if (!scope) return fn();
  const blocked = scope.policy !== null;
  scope.effects.add({ kind: 'guard', name, origin: '', pathTemplate: '', status: null, bodySha256: null, blocked });
  if (!blocked) return fn();
  return typeof standIn === 'function' ? (standIn as () => T | Promise<T>)() : standIn;
}
