/**
 * shadowtap's public API: everything a program may import from `shadowtap` (the shadow service's
 * library is `shadowtap/shadow`). Nothing else in the package is public.
 */

// The logs both stages talk through: Kafka or the embedded Avro file log.
export { openLog, defaultLogOptions, type LogOptions } from './shared/log/open-log.js';
export { captureKind, resultKind, type LogEntry, type Position, type ReadOptions, type RecordKind, type RecordLog } from './shared/log/record-log.js';

// Records and their schemas.
export type { Capture, Header, HttpRequest, HttpResponse, RequestChange, Result, ResultRole, SealedSecrets, SideEffect } from './shared/records/types.js';
export { captureCodec, resultCodec, type Codec } from './shared/records/codec.js';

// Capture: the proxy / mirror target, the in-process middleware, the importers.
export * from './capture/index.js';

// Redaction keys for seal mode.
export { generateSealKeys, openingKeyFromPem, sealingKeyFromPem, type OpeningKey, type SealingKey } from './shared/redaction/seal.js';

// Replay and soak.
export { createReplay, runReplay, type Replay, type ReplayOptions, type ReplaySummary, type ReplayProgress } from './replay/replay-worker.js';
export { replayMarkerHeader, mirroredRequestHeader, replayMarkers, replayMarkerNames } from './shared/records/replay-markers.js';
export { runSoak, type SoakOptions, type SoakSummary } from './replay/soak.js';

// Diff and its reports.
export { createDiff, runDiff, summarizeDiff, type Diff, type DiffOptions } from './diff/run-diff.js';
export { diffDefaults } from './diff/diff-defaults.js';
export type { PairRecord } from './diff/pair-record.js';
export { buildReport, type DiffReport, type RouteReport, type Thresholds } from './diff/report.js';
export { acceptReport } from './diff/reviewed-differences.js';
export { defaultGateCriteria, evaluateGate, type GateCheck, type GateCriteria, type GateDecision } from './diff/graduation-gate.js';
export { renderReport, reportFormats, type RenderOptions, type ReportFormat, type WholeReportFormat } from './diff/render/formats.js';
export { renderText } from './diff/render/text.js';
export { jsonLinesWriter, renderJson, renderJsonLines, type JsonLinesWriter } from './diff/render/json.js';
export { renderHtml } from './diff/render/html.js';
export { renderJunit } from './diff/render/junit.js';
export { renderMarkdown } from './diff/render/markdown.js';

// Failures every stage reports with a stable code.
export { ShadowtapError } from './shared/errors.js';
