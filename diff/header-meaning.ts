/**
 * Header values reduced to what they mean, so two spellings of the same answer compare equal:
 * media type parameters that change nothing, list and directive order, case-insensitive tokens,
 * whitespace around commas. Only used to decide equality; reports always show the raw values.
 */
type Rule = 'media-type' | 'token-set' | 'case-set' | 'directives' | 'token-list';

const rules: Record<string, Rule> = {
  'content-type': 'media-type',
  // Order-free lists of case-insensitive tokens (header names, codings, ranges).
  vary: 'token-set',
  'access-control-allow-headers': 'token-set',
  'access-control-expose-headers': 'token-set',
  'accept-encoding': 'token-set',
  'accept-ranges': 'token-set',
  connection: 'token-set',
  'content-language': 'token-set',
  'x-content-type-options': 'token-set',
  // Order-free lists whose items are case-sensitive (methods) or carry their own parameters.
  allow: 'case-set',
  'access-control-allow-methods': 'case-set',
  accept: 'case-set',
  'accept-language': 'case-set',
  'accept-charset': 'case-set',
  'cache-control': 'directives',
  pragma: 'directives',
  // Codings apply in order: only case and spacing are free.
  'content-encoding': 'token-list',
  'transfer-encoding': 'token-list',
};

/** Media types whose text is UTF-8 by definition (RFC 8259), so a charset of utf-8 adds nothing. */
const utf8Only = /^application\/(?:[\w.+-]+\+)?json$/;

const items = (value: string) => value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
const unquote = (s: string) => (s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s);

/** A Content-Type split into its lower-cased essence and parameters (names lower-cased, values unquoted; charset lower-cased). */
export function parseMediaType(value: string): { type: string; params: Array<[string, string]> } {
  // Most content types have no parameters: nothing to split.
  if (!value.includes(';')) return { type: value.trim().toLowerCase(), params: [] };
  const [type = '', ...rest] = value.split(';');
  const params: Array<[string, string]> = [];
  for (const param of rest) {
    const eq = param.indexOf('=');
    const name = (eq < 0 ? param : param.slice(0, eq)).trim().toLowerCase();
    if (name === '') continue;
    const v = eq < 0 ? '' : unquote(param.slice(eq + 1).trim());
    params.push([name, name === 'charset' ? v.toLowerCase() : v]);
  }
  return { type: type.trim().toLowerCase(), params };
}

function mediaType(value: string): string {
  const { type, params } = parseMediaType(value);
  const kept = params.filter(([name, v]) => !(name === 'charset' && (v === 'utf-8' || v === 'utf8') && utf8Only.test(type))).map(([name, v]) => `${name}=${v}`);
  return [type, ...kept.sort()].join(';');
}

function directives(value: string): string {
  return items(value)
    .map((d) => {
      const eq = d.indexOf('=');
      return eq < 0 ? d.toLowerCase() : `${d.slice(0, eq).trim().toLowerCase()}=${unquote(d.slice(eq + 1).trim())}`;
    })
    .sort()
    .join(',');
}

const sortedUnique = (list: string[]) => [...new Set(list)].sort().join(',');

/** The value in a canonical form for `name` (lower-cased); unknown headers only lose outer whitespace. */
export function headerMeaning(name: string, value: string): string {
  switch (rules[name]) {
    case 'media-type':
      return mediaType(value);
    case 'token-set':
      return sortedUnique(items(value.toLowerCase()));
    case 'case-set':
      return sortedUnique(items(value).map((i) => i.replace(/\s*;\s*/g, ';')));
    case 'directives':
      return directives(value);
    case 'token-list':
      return items(value.toLowerCase()).join(',');
    default:
      return value.trim();
  }
}

/** True when two values of header `name` mean the same. */
export function sameHeaderMeaning(name: string, a: string, b: string): boolean {
  return a === b || headerMeaning(name, a) === headerMeaning(name, b);
}
