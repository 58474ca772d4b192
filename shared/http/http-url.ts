import { usageError, type ShadowtapError } from '../errors.js';

/** TEXT as an absolute http: or https: URL (the only kind shadowtap listens for or sends to), or undefined. */
export function httpUrl(text: string): URL | undefined {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/** What is wrong with a value that is not an http(s) URL; goes after the name of what it was given for. */
export function notHttpUrl(text: string, example = 'http://shadow:8080'): string {
  return `must be an http(s) URL such as ${example}; got "${text}"`;
}

/** TEXT, given for NAME (a flag or an option), as an http(s) URL; otherwise a usage error (or the error asked for) that names it. */
export function parseHttpUrl(text: string, name: string, example?: string, error: (message: string) => ShadowtapError = usageError): URL {
  const url = httpUrl(text);
  if (!url) throw error(`${name} ${notHttpUrl(text, example)}`);
  return url;
}
