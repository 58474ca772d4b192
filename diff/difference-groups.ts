import type { Change, DifferenceKind, Severity } from './difference.js';
import type { FieldReport } from './report.js';
import { fieldKey } from './summary.js';

/**
 * The same difference seen on several routes, reported once. A field is systemic when it
 * differs for real, with the same kind and change, on at least two routes and either with the
 * same values everywhere (`x-powered-by: Express` removed) or, its values varying (an `etag`
 * added everywhere), on at least half the compared routes and in at least half the pairs of
 * each. Systemic differences on
 * the same routes form one group: a framework upgrade that changes nine response headers on
 * every route is one group of nine, shown once and first, instead of nine rows per route
 * burying the body changes that matter; each route then lists only what is its own.
 */
export interface DifferenceGroup {
  /** The routes' count, of `routesCompared` routes with compared pairs: "on 7 of 7 routes". */
  routeCount: number;
  routesCompared: number;
  /** Pairs of the most frequent difference: at least that many pairs differ by the group. */
  pairs: number;
  /** `pairs` over every compared pair of the report. */
  pairRate: number;
  /** The group's routes, most pairs first, at most 20. */
  routes: string[];
  /** Sum of its differences' impact. */
  impact: number;
  /** Most impact first. */
  differences: SystemicDifference[];
}

export interface SystemicDifference {
  kind: DifferenceKind;
  field: string;
  change: Change;
  severity: Severity;
  /** Both sides' values when every pair of every route showed the same ones (excerpts). */
  stable?: string;
  shadow?: string;
  /** One line for people: `header access-control-allow-origin added "*"`. */
  description: string;
  /** Pairs where the field differed for real, over all the group's routes. */
  pairs: number;
  impact: number;
}

/** How much each severity weighs in impact: a broken status outranks many added fields. */
const severityWeight: Record<Severity, number> = { critical: 8, schema: 4, value: 2, addition: 1 };
const maxGroupRoutes = 20;
const maxGroups = 50;

/** Routes affected × pairs affected × severity weight: what reports rank differences by. */
export const impactOf = (f: { severity: Severity; differs: number }, routes: number) => severityWeight[f.severity] * f.differs * routes;

const changeWords: Record<Change, string> = {
  'status-class-changed': 'changed class',
  'type-changed': 'changed type',
  removed: 'removed',
  'value-changed': 'changed',
  added: 'added',
};

function describe(kind: DifferenceKind, field: string, change: Change, values: { stable?: string; shadow?: string } | undefined): string {
  const what = `${kind === 'header' ? `header ${field.slice('header:'.length)}` : kind === 'status' ? 'status' : `body ${field}`} ${changeWords[change]}`;
  if (!values) return `${what} (values vary)`;
  if (change === 'added') return `${what} ${values.shadow ?? ''}`.trimEnd();
  if (change === 'removed') return `${what} (was ${values.stable ?? ''})`;
  return `${what} ${values.stable ?? ''} → ${values.shadow ?? ''}`;
}

function valuesOf(signature: string): { stable?: string; shadow?: string } {
  const [, stable, shadow] = signature.split('\u0000');
  return { ...(stable && { stable }), ...(shadow && { shadow }) };
}

/**
 * Groups of `fields` (every route's); `grouped` maps a route to the field keys its groups took,
 * `routePairs` a group to its pairs per route (for per-route thresholds).
 */
export function groupDifferences(
  fields: readonly FieldReport[],
  routesCompared: number,
  pairsCompared: number,
): { groups: DifferenceGroup[]; grouped: Map<string, Set<string>>; routePairs: Map<DifferenceGroup, Map<string, number>> } {
  const candidates = new Map<string, FieldReport[]>();
  for (const f of fields) {
    if (f.differs === 0) continue;
    const key = `${fieldKey(f)}\u0000${f.change}`;
    const list = candidates.get(key);
    if (list) list.push(f);
    else candidates.set(key, [f]);
  }
  const found: Array<{ difference: SystemicDifference; members: FieldReport[] }> = [];
  for (const members of candidates.values()) {
    if (members.length < 2) continue;
    const signature = members[0]!.signature;
    const same = signature !== undefined && members.every((m) => !m.varies && m.signature === signature);
    if (!same && (members.length * 2 < routesCompared || members.some((m) => m.differenceRate < 0.5))) continue;
    const first = members[0]!;
    const pairs = members.reduce((n, m) => n + m.differs, 0);
    const values = same ? valuesOf(signature) : undefined;
    const difference: SystemicDifference = {
      kind: first.kind,
      field: first.field,
      change: first.change,
      severity: first.severity,
      ...values,
      description: describe(first.kind, first.field, first.change, values),
      pairs,
      impact: impactOf({ severity: first.severity, differs: pairs }, members.length),
    };
    found.push({ difference, members });
  }
  // Differences on the same set of routes are one change of the shadow, told once.
  const byRoutes = new Map<string, DifferenceGroup>();
  for (const { difference, members } of found.sort((a, b) => b.difference.impact - a.difference.impact || a.difference.field.localeCompare(b.difference.field))) {
    const routes = members.map((m) => m.route).sort();
    const key = routes.join('\u0000');
    let group = byRoutes.get(key);
    if (!group) {
      const ranked = [...members].sort((a, b) => b.differs - a.differs || a.route.localeCompare(b.route));
      group = { routeCount: routes.length, routesCompared, pairs: 0, pairRate: 0, routes: ranked.slice(0, maxGroupRoutes).map((m) => m.route), impact: 0, differences: [] };
      byRoutes.set(key, group);
    }
    group.differences.push(difference);
    group.impact += difference.impact;
    group.pairs = Math.max(group.pairs, difference.pairs);
    group.pairRate = pairsCompared === 0 ? 0 : group.pairs / pairsCompared;
  }
  // Past the cut a field stays in its routes' own tables: nothing is hidden.
  const groups = [...byRoutes.values()].sort((a, b) => b.impact - a.impact).slice(0, maxGroups);
  const owner = new Map(groups.flatMap((g) => g.differences.map((d) => [d, g] as const)));
  const grouped = new Map<string, Set<string>>();
  const routePairs = new Map<DifferenceGroup, Map<string, number>>();
  for (const { difference, members } of found) {
    const group = owner.get(difference);
    if (!group) continue;
    const pairs = routePairs.get(group) ?? new Map<string, number>();
    routePairs.set(group, pairs);
    for (const m of members) {
      const set = grouped.get(m.route) ?? new Set<string>();
      set.add(fieldKey(m));
      grouped.set(m.route, set);
      pairs.set(m.route, Math.max(pairs.get(m.route) ?? 0, m.differs));
    }
  }
  return { groups, grouped, routePairs };
}
