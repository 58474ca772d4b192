/** A snapshot the worker hands to `onProgress` about four times a second. */
export interface ReplayProgress {
  elapsedMs: number;
  read: number;
  sent: number;
  errors: number;
  skipped: number;
  dropped: number;
  inFlight: number;
  /** Share of the time window done (0..1), when the window has both ends; null otherwise. */
  fraction: number | null;
  /** Follow mode: ms behind the newest capture. */
  lagMs: number | null;
  circuitOpen: boolean;
}
