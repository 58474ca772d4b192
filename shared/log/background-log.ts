import type { RecordLog } from './record-log.js';

export type LogState = 'connecting' | 'connected' | 'unreachable';

export interface BackgroundLog<T> extends RecordLog<T> {
  /** Whether the log has been reached: capture serves whatever this says. */
  readonly state: LogState;
  /** Why the last attempt to reach the log failed, while it is unreachable. */
  readonly problem: string | undefined;
}

/**
 * A log opened in the background, so the capture agent serves from its first second even when
 * the broker is down: opening starts at once, and an append before it succeeds (or after it
 * failed) fails like any append to an unreachable log, which the record queue retries with
 * backoff while records wait in memory and in the spool. Each retried append tries to open
 * again. Reading is for the stages that need the log before they can work, not for capture.
 */
export function openLogInBackground<T>(name: string, open: () => Promise<RecordLog<T>>): BackgroundLog<T> {
  let log: RecordLog<T> | undefined;
  let opening: Promise<RecordLog<T>> | undefined;
  let state: LogState = 'connecting';
  let problem: string | undefined;
  let closed = false;

  const attempt = (): Promise<RecordLog<T>> =>
    (opening ??= open().then(
      async (opened) => {
        if (closed) {
          await opened.close();
          throw new Error('closed');
        }
        log = opened;
        state = 'connected';
        problem = undefined;
        return opened;
      },
      (error: Error) => {
        opening = undefined;
        state = 'unreachable';
        problem = error.message;
        throw error;
      },
    ));
  attempt().catch(() => undefined);

  return {
    name,
    get state() {
      return state;
    },
    get problem() {
      return problem;
    },
    async append(records: T[]): Promise<void> {
      await (log ?? (await attempt())).append(records);
    },
    read() {
      throw new Error('a background log is written by capture only');
    },
    async commit() {
      throw new Error('a background log is written by capture only');
    },
    async close(): Promise<void> {
      // An open still under way closes what it opens itself: shutdown never waits for a broker that is away.
      closed = true;
      await log?.close();
    },
  };
}
