import type { HttpRequest } from '../shared/records/types.js';

/**
 * Why a recorded request must not be sent to the shadow, or null when it may be.
 * Unsafe methods could write to shared databases or call third parties twice; a truncated body
 * would send a request the client never sent.
 */
export function skipReason(request: HttpRequest | null | undefined, allowedMethods: ReadonlySet<string>): string | null {
  if (!request || !request.method) return 'no-request';
  if (!allowedMethods.has(request.method.toUpperCase())) return 'unsafe-method';
  if (request.truncated) return 'truncated-body';
  return null;
}

const absoluteUrl = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * The request target sent to the shadow: always origin-form (`/path?query`). A recorded
 * absolute URL (`http://other:1234/x`, proxy style) or protocol-relative path (`//other/x`)
 * keeps only its path and query, so nothing but the configured target is ever contacted.
 */
export function originFormPath(path: string, query: string): string {
  let target = path || '/';
  if (absoluteUrl.test(target) || target.startsWith('//')) {
    const url = new URL(target, 'http://placeholder.invalid');
    target = url.pathname + url.search;
  }
  if (target === '*') return target;
  if (!target.startsWith('/')) target = `/${target}`;
  if (query) target += `${target.includes('?') ? '&' : '?'}${query}`;
  return target;
}
