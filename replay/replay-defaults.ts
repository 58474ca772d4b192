/**
 * Every default of the replay stage, in one place: createReplay destructures its options against
 * these, and the CLI's flags show them. Nothing else restates one.
 */
export const replayDefaults = Object.freeze({
  /** The live mirroring group (`--follow`); see defaultGroup. */
  group: 'shadowtap-replay',
  pace: 'asap' as 'asap' | 'recorded',
  /** With pace 'recorded': 1 keeps the recorded gaps. */
  speed: 1,
  /** With a rate: how long a send may wait for a free concurrency slot (the shadow's backlog) before it is dropped. */
  maxLatenessMs: 1000,
  strictOpenModel: false,
  concurrency: 64,
  /** HTTP's safe methods; others go only to a shadow proven guarded (guardedWrites). */
  allowMethods: Object.freeze(['GET', 'HEAD', 'OPTIONS']) as readonly string[],
  guardedWrites: true,
  timeoutMs: 10_000,
  retries: 0,
  /** Consecutive connection failures that open the circuit; one probe this often while open. */
  breakerFailures: 5,
  breakerProbeIntervalMs: 1000,
  maxBodyBytes: 1024 * 1024,
  drainTimeoutMs: 10_000,
  allowMasked: false,
});

/** A soak's defaults (soak-source.ts): the window as recorded, once, each request once. */
export const soakDefaults = Object.freeze({ compress: 1, loop: 1, amplify: 1, buckets: 24, maxDurationMs: 24 * 3600_000 });

/**
 * The consumer group when none is given. Live mirroring (`--follow`) uses one group, so the
 * workers of a deployment share the partitions and a restarted one resumes (a relative `--from`
 * such as -5m differs on every start, so it cannot name the group). A bounded replay (a window,
 * or the whole log once) gets a group of its own window and target: it resumes after a crash,
 * yet never starts where another window or another shadow's replay stopped (with one shared
 * group, a window replayed after any other replay found everything committed and sent nothing).
 */
export function defaultGroup(scope: { follow?: boolean; fromMs?: number; toMs?: number; target: URL }): string {
  if (scope.follow) return replayDefaults.group;
  return `${replayDefaults.group}.${scope.fromMs ?? 'start'}-${scope.toMs ?? 'end'}.${scope.target.host}`;
}
