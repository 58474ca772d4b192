import { configError } from '../shared/errors.js';
import { replayMarkerNames } from '../shared/records/replay-markers.js';
import { isOverBroad, matchesPath, parsePathPattern, type PathPattern, type PathSegment } from './json-path.js';
import { routeSelectorMatches } from './route-template.js';

/**
 * Headers that differ between any two servers or any two responses of one server. Differences
 * in them are dropped silently; `!header:NAME` takes one back into the comparison.
 * content-length is among them because the body comparison already covers it: a length that
 * differs with the body adds nothing, and one that differs alone only means another encoding.
 */
export const defaultIgnoredHeaders: readonly string[] = [
  'date',
  'content-length',
  'server',
  'etag',
  'x-request-id',
  'set-cookie',
  'age',
  'expires',
  'last-modified',
  'x-powered-by',
  'traceparent',
  'tracestate',
  'x-trace-id',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-amzn-trace-id',
  'via',
  'keep-alive',
  'connection',
  'transfer-encoding',
  ...replayMarkerNames,
];

/** A user rule; differences it selects are listed as noise with the rule as reason. */
export interface IgnoreRule {
  source: string;
  /** Route selector (`/users/{id}`, `GET /users/:id`); absent for global rules. */
  route?: string;
  header?: string;
  path?: PathPattern;
}

export interface ArrayKeyRule {
  source: string;
  route?: string;
  /** The array, e.g. `$.items` for `$.items[*]=sku`. */
  array: PathPattern;
  key: string;
}

export interface IgnoreRules {
  rules: IgnoreRule[];
  /** Default-ignored headers after `!header:` removals, lower case. */
  silentHeaders: ReadonlySet<string>;
}

/** Splits `route:SELECTOR RULE` into its route and rule; the rule is the last word. */
function splitRoute(source: string, flag: string): { route?: string; rest: string } {
  const text = source.trim();
  if (!text.startsWith('route:')) return { rest: text };
  const body = text.slice('route:'.length).trim();
  const space = body.lastIndexOf(' ');
  if (space < 0) throw configError(`${flag} "${source}" needs a rule after the route, e.g. 'route:/users/{id} $.lastSeen'`);
  return { route: body.slice(0, space).trim(), rest: body.slice(space + 1).trim() };
}

export function parseIgnoreRules(sources: readonly string[]): IgnoreRules {
  const rules: IgnoreRule[] = [];
  const silent = new Set(defaultIgnoredHeaders);
  for (const source of sources) {
    const { route, rest } = splitRoute(source, '--ignore');
    if (rest.startsWith('!header:')) {
      if (route) throw configError(`--ignore "${source}": !header: applies to every route; drop the route: prefix`);
      silent.delete(rest.slice('!header:'.length).trim().toLowerCase());
      continue;
    }
    if (rest.startsWith('header:')) {
      const header = rest.slice('header:'.length).trim().toLowerCase();
      if (!header) throw configError(`--ignore "${source}" names no header; use header:x-trace-id`);
      rules.push({ source, route, header });
      continue;
    }
    const path = parsePathPattern(rest);
    if (isOverBroad(path)) {
      throw configError(
        `--ignore "${source}" would hide the whole body or every element of the root array, so no difference could ever be seen; ` +
          `name the fields instead (for example $.meta.generatedAt or $..traceId)`,
      );
    }
    rules.push({ source, route, path });
  }
  return { rules, silentHeaders: silent };
}

export function parseArrayKeys(sources: readonly string[]): ArrayKeyRule[] {
  return sources.map((source) => {
    const { route, rest } = splitRoute(source, '--array-key');
    const match = /^(.*)\[\*\]\s*=\s*([^\s=]+)$/.exec(rest);
    if (!match) throw configError(`--array-key "${source}" must look like '$.items[*]=sku' (the array, [*], =, the key field)`);
    return { source, route, array: parsePathPattern(match[1]!), key: match[2]! };
  });
}

const applies = (rule: { route?: string }, route: string | undefined) =>
  rule.route === undefined || (route !== undefined && routeSelectorMatches(rule.route, route));

/** The rules that apply to one route, picked once per route rather than once per difference. */
export interface RouteRules {
  /** The user rule that makes a header difference noise, if any. */
  headerRule(header: string): IgnoreRule | undefined;
  pathRule(path: readonly PathSegment[]): IgnoreRule | undefined;
  /** The key field of the array at this path; absent when no array-key rule applies to the route. */
  arrayKey?: (path: readonly PathSegment[]) => string | undefined;
}

export function rulesForRoute(rules: IgnoreRules, keys: readonly ArrayKeyRule[], route: string | undefined): RouteRules {
  const headerRules = rules.rules.filter((r) => r.header !== undefined && applies(r, route));
  const pathRules = rules.rules.filter((r) => r.path !== undefined && applies(r, route));
  const arrayKeys = keys.filter((k) => applies(k, route));
  return {
    headerRule: (header) => (headerRules.length === 0 ? undefined : headerRules.find((r) => r.header === header)),
    pathRule: (path) => (pathRules.length === 0 ? undefined : pathRules.find((r) => matchesPath(r.path!, path))),
    // Asked of every array of every body, so a plain loop rather than find with a closure.
    ...(arrayKeys.length > 0 && {
      arrayKey: (path: readonly PathSegment[]) => {
        for (const rule of arrayKeys) if (matchesPath(rule.array, path, false)) return rule.key;
        return undefined;
      },
    }),
  };
}
