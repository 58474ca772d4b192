import type { Header } from '../shared/records/types.js';
import type { Change } from './difference.js';
import { sameHeaderMeaning } from './header-meaning.js';

export interface HeaderDifference {
  name: string;
  change: Extract<Change, 'removed' | 'added' | 'value-changed'>;
  stable?: string;
  shadow?: string;
}

/** Header values by lower-cased name; repeated headers joined in their order, as HTTP allows. */
function byName(headers: readonly Header[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const { name, value } of headers) {
    const key = name.toLowerCase();
    const prior = map.get(key);
    map.set(key, prior === undefined ? value : `${prior}, ${value}`);
  }
  return map;
}

/** Differences in headers not listed in `silent`, in stable's header order then shadow's additions; values compare by meaning. */
export function diffHeaders(stable: readonly Header[], shadow: readonly Header[], silent: ReadonlySet<string>): HeaderDifference[] {
  const a = byName(stable);
  const b = byName(shadow);
  const out: HeaderDifference[] = [];
  for (const [name, value] of a) {
    if (silent.has(name)) continue;
    const other = b.get(name);
    if (other === undefined) out.push({ name, change: 'removed', stable: value });
    else if (!sameHeaderMeaning(name, value, other)) out.push({ name, change: 'value-changed', stable: value, shadow: other });
  }
  for (const [name, value] of b) if (!silent.has(name) && !a.has(name)) out.push({ name, change: 'added', shadow: value });
  return out;
}
