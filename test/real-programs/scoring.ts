import type { PairRecord } from '../../diff/pair-record.js';
import { excerpt } from '../../diff/difference.js';
import type { Capture, HttpResponse, Result } from '../../shared/records/types.js';
import { MASK } from '../../shared/redaction/redactor.js';
import type { RealCase } from './real-case.js';
import type { ToolRun } from './tool-path.js';
import type { TruthEntry } from './truth.js';

/**
 * How the tool's verdict on one request is read against the truth (status and body only):
 * - `different`: the pair has at least one status or body difference that is real (no noise
 *   label, not accepted). A pair that is `mismatch` on headers alone is `same` here.
 * - `same`: `match`, `noise` (every difference labelled noise), or header-only differences.
 * - `not compared`: any other verdict (`skipped`, `missing`, `shadow-error`, `no-baseline`, or a
 *   verdict for an altered replay), no verdict at all, or an id shared by several captures
 *   (the tool merged distinct requests, so which one it judged is unknown). Such a request is
 *   neither a true nor a false positive nor a false negative; it is counted and listed apart.
 */
export type ToolCall = 'different' | 'same' | 'not compared';

export interface ScoredRequest {
  truth: TruthEntry;
  captureId?: string;
  verdict: string;
  call: ToolCall;
  /** Why not compared, or the real status/body differences the tool named. */
  reason: string;
  toolDifferences: string[];
  /** For a pair called different: which of the tool's own changes the differences show. */
  causes: string[];
  headerOnly: boolean;
  redactions: string[];
  requestChanges: string[];
}

export interface CaseScore {
  name: string;
  stable: string;
  shadow: string;
  pairs: number;
  truthDiffering: number;
  tp: number;
  fp: number;
  fn: number;
  tn: number;
  notCompared: number;
  notComparedDiffering: number;
  headerOnlyMismatches: number;
  precision: number;
  recall: number;
  scored: ScoredRequest[];
  diffExitCode: number | null;
}

const comparedVerdicts = new Set(['match', 'mismatch', 'noise', 'accepted']);

function realStatusBody(pair: PairRecord): PairRecord['differences'] {
  return pair.differences.filter((d) => (d.kind === 'status' || d.kind === 'body') && d.noise === undefined && d.review !== 'accepted');
}

/** The value at a difference path (`$.a.b[0]`, `status`) in a recorded answer, for reports. */
function valueAt(response: HttpResponse | null | undefined, path: string): string {
  if (!response) return '—';
  if (path === 'status') return String(response.status);
  if (!path.startsWith('$')) return '…';
  let value: unknown;
  try {
    value = JSON.parse(response.body.toString('utf8'));
  } catch {
    return '…';
  }
  for (const [, key, index] of path.slice(1).matchAll(/\.([^.[\]]+)|\[(\d+)\]/g)) {
    if (value === null || typeof value !== 'object') return '—';
    value = (value as Record<string, unknown>)[key ?? Number(index)];
  }
  return value === undefined ? '—' : excerpt(value);
}

/** The tool's differences with both values, for the lines that explain a false difference. */
function describeDifferences(differences: PairRecord['differences'], capture: Capture, result: Result | undefined): string[] {
  return differences.map((d) => `${d.path} ${d.change} (stable ${valueAt(capture.response, d.path)}, shadow ${valueAt(result?.response, d.path)})`);
}

/** Which of the tool's own doings a false difference shows (a hint read off the differences and the records). */
function likelyCauses(described: string[], scored: Pick<ScoredRequest, 'redactions' | 'requestChanges'>): string[] {
  const text = described.join(' ').toLowerCase();
  const causes: string[] = [];
  if (text.includes('redacted')) causes.push('redaction');
  else if (scored.redactions.some((r) => r.startsWith('request.'))) causes.push('redaction (the request was replayed with masked parts)');
  if (/x-shadowtap-replay|x-mirrored-request/.test(text)) causes.push('replay markers');
  if (text.includes('x-forwarded-')) causes.push('x-forwarded-* of the capture proxy');
  if (/host\b|127\.0\.0\.1/.test(text)) causes.push('Host');
  return causes.length ? causes : ['none of the tool\'s own changes: see the values'];
}

/** Whether a recorded path is the path sent, its redacted values (`;jsessionid=[redacted]`) standing for any value. */
function sameRequestPath(recorded: string, sent: string): boolean {
  if (recorded === sent) return true;
  const mask = encodeURIComponent(MASK);
  if (!recorded.includes(mask)) return false;
  const pattern = recorded.split(mask).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^/;]+');
  return new RegExp(`^${pattern}$`).test(sent);
}

export function scoreCase(realCase: RealCase, truth: TruthEntry[], run: ToolRun): CaseScore {
  if (run.captures.length !== truth.length) {
    throw new Error(`${realCase.name}: ${truth.length} requests sent through capture but ${run.captures.length} captures recorded`);
  }
  const idCount = new Map<string, number>();
  for (const c of run.captures) idCount.set(c.id, (idCount.get(c.id) ?? 0) + 1);
  const pairByCapture = new Map(run.pairs.map((p) => [p.captureId, p]));
  const shadowResults = new Map(run.results.filter((r) => r.role !== 'baseline' && r.role !== 'reference').map((r) => [r.captureId, r]));
  const changesByCapture = new Map(run.results.map((r) => [r.captureId, r.requestChanges.map((c) => `${c.kind} ${c.name}: ${c.from ?? '—'} → ${c.to ?? '—'}`)]));

  const scored = truth.map((entry, i): ScoredRequest => {
    const capture = run.captures[i];
    const sentPath = entry.request.path.split('?')[0];
    if (capture.request.method !== entry.request.method || !sameRequestPath(capture.request.path, sentPath!)) {
      throw new Error(`${realCase.name}: capture ${i} is ${capture.request.method} ${capture.request.path}, request ${i} was ${entry.request.method} ${sentPath}`);
    }
    const base = { truth: entry, captureId: capture.id, redactions: capture.redactions, requestChanges: changesByCapture.get(capture.id) ?? [] };
    const pair = pairByCapture.get(capture.id);
    if ((idCount.get(capture.id) ?? 0) > 1) {
      return { ...base, verdict: pair?.verdict ?? 'none', call: 'not compared', reason: `capture id ${capture.id} shared by ${idCount.get(capture.id)} captures`, toolDifferences: [], causes: [], headerOnly: false };
    }
    if (!pair) return { ...base, verdict: 'none', call: 'not compared', reason: 'no verdict in the diff output', toolDifferences: [], causes: [], headerOnly: false };
    if (!comparedVerdicts.has(pair.verdict)) {
      const why = pair.skipReason ?? pair.error ?? '';
      return { ...base, verdict: pair.verdict, call: 'not compared', reason: why ? `${pair.verdict}: ${why}` : pair.verdict, toolDifferences: [], causes: [], headerOnly: false };
    }
    const real = realStatusBody(pair);
    const toolDifferences = describeDifferences(real, capture, shadowResults.get(capture.id));
    const headerOnly = pair.verdict === 'mismatch' && real.length === 0;
    const causes = real.length > 0 ? likelyCauses(toolDifferences, base) : [];
    return { ...base, verdict: pair.verdict, call: real.length > 0 ? 'different' : 'same', reason: toolDifferences.join('; '), toolDifferences, causes, headerOnly };
  });

  const count = (f: (s: ScoredRequest) => boolean) => scored.filter(f).length;
  const tp = count((s) => s.call === 'different' && s.truth.different);
  const fp = count((s) => s.call === 'different' && !s.truth.different);
  const fn = count((s) => s.call === 'same' && s.truth.different);
  const tn = count((s) => s.call === 'same' && !s.truth.different);
  return {
    name: realCase.name,
    stable: realCase.stable,
    shadow: realCase.shadow,
    pairs: scored.length,
    truthDiffering: count((s) => s.truth.different),
    tp,
    fp,
    fn,
    tn,
    notCompared: count((s) => s.call === 'not compared'),
    notComparedDiffering: count((s) => s.call === 'not compared' && s.truth.different),
    headerOnlyMismatches: count((s) => s.headerOnly),
    // With nothing called different there is no wrong call: precision 1. Likewise recall.
    precision: tp + fp === 0 ? 1 : tp / (tp + fp),
    recall: tp + fn === 0 ? 1 : tp / (tp + fn),
    scored,
    diffExitCode: run.diffExitCode,
  };
}

/** The per-case lines the benchmark prints and the test shows when it fails. */
export function describeScore(score: CaseScore, verbose = false): string {
  const f = (x: number) => x.toFixed(3);
  const lines = [
    `${score.name}: ${score.stable} → ${score.shadow}`,
    `  pairs ${score.pairs}, truth differing ${score.truthDiffering}, TP ${score.tp}, FP ${score.fp}, FN ${score.fn}, TN ${score.tn}, ` +
      `not compared ${score.notCompared} (${score.notComparedDiffering} of them differing), header-only mismatches ${score.headerOnlyMismatches}`,
    `  precision ${f(score.precision)}, recall ${f(score.recall)} (status/body; diff exit code ${score.diffExitCode})`,
  ];
  const list = (items: string[]) => (items.length > 6 ? `${items.slice(0, 6).join('; ')}; … ${items.length - 6} more` : items.join('; '));
  const request = (s: ScoredRequest) => `${s.truth.request.method} ${s.truth.request.path}`;
  const context = (s: ScoredRequest) =>
    [s.redactions.length ? `redacted at capture: ${s.redactions.join(', ')}` : '', s.requestChanges.length ? `replay changed: ${s.requestChanges.join('; ')}` : '']
      .filter(Boolean)
      .join(' | ');
  for (const s of score.scored.filter((x) => x.call === 'different' && !x.truth.different)) {
    lines.push(`  FP ${request(s)} [${s.verdict}] likely cause: ${s.causes.join(' + ')}; tool: ${list(s.toolDifferences)}${context(s) ? ` | ${context(s)}` : ''}`);
  }
  for (const s of score.scored.filter((x) => x.call === 'same' && x.truth.different)) {
    lines.push(`  FN ${request(s)} [${s.verdict}] truth: ${list(s.truth.differences)}${context(s) ? ` | ${context(s)}` : ''}`);
  }
  if (verbose) {
    for (const s of score.scored) {
      lines.push(`  #${s.truth.index} ${request(s)}: truth ${s.truth.different ? `different (${list(s.truth.differences)})` : 'same'}, tool ${s.call} [${s.verdict}]`);
    }
  }
  for (const s of score.scored.filter((x) => x.call === 'not compared')) {
    lines.push(`  not compared ${request(s)} (${s.reason})${s.truth.different ? ` truth: ${list(s.truth.differences)}` : ''}`);
  }
  return lines.join('\n');
}
