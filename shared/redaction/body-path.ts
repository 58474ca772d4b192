/**
 * JSON paths of body fields: `$.user.password`, `$.items[0].token`; patterns add `*` (one key or
 * index) and `**` (any depth, including none).
 */
export type PathSegment = string | number;

export function parsePathPattern(pattern: string): string[] {
  const segments: string[] = [];
  const re = /\.([^.[\]]+)|\[(\*|\d+|"[^"]*"|'[^']*')\]/g;
  if (!pattern.startsWith('$')) throw new Error(`body path "${pattern}" must start with $`);
  const body = pattern.slice(1);
  let consumed = 0;
  for (let m = re.exec(body); m; m = re.exec(body)) {
    if (m.index !== consumed) break;
    consumed = re.lastIndex;
    const raw = m[1] ?? m[2];
    segments.push(/^["']/.test(raw) ? raw.slice(1, -1) : raw);
  }
  if (consumed !== body.length) throw new Error(`bad body path "${pattern}"`);
  return segments;
}

export function matchesPath(pattern: readonly string[], path: readonly PathSegment[]): boolean {
  const go = (p: number, s: number): boolean => {
    if (p === pattern.length) return s === path.length;
    if (pattern[p] === '**') {
      for (let k = s; k <= path.length; k++) if (go(p + 1, k)) return true;
      return false;
    }
    if (s === path.length) return false;
    return (pattern[p] === '*' || pattern[p] === String(path[s])) && go(p + 1, s + 1);
  };
  return go(0, 0);
}

/** A path for the redactions list: array indices become [*] so the list stays short. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '$';
  for (const seg of path) {
    if (typeof seg === 'number') out += '[*]';
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}
