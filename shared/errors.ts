/**
 * Every error a user can cause or meet, with a stable code, the exit code the CLI uses and a
 * message that says what to do next. Anything else is a bug and shows its stack.
 */
export const ExitCode = { ok: 0, thresholdBreached: 1, usage: 2, runtime: 3 } as const;

export type ErrorCode =
  | 'ST_USAGE'
  | 'ST_CONFIG'
  | 'ST_LOG_UNREACHABLE'
  | 'ST_LOG_IO'
  | 'ST_BAD_RECORD'
  | 'ST_BAD_INPUT_FILE'
  | 'ST_RUNTIME';

const exitCodes: Record<ErrorCode, number> = {
  ST_USAGE: ExitCode.usage,
  ST_CONFIG: ExitCode.usage,
  ST_BAD_INPUT_FILE: ExitCode.usage,
  ST_LOG_UNREACHABLE: ExitCode.runtime,
  ST_LOG_IO: ExitCode.runtime,
  ST_BAD_RECORD: ExitCode.runtime,
  ST_RUNTIME: ExitCode.runtime,
};

export class ShadowtapError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  /** Whether trying again later can succeed (the broker may come back; a bad flag will not). */
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.name = 'ShadowtapError';
    this.code = code;
    this.exitCode = exitCodes[code];
    this.retriable = options.retriable ?? false;
  }
}

export const usageError = (message: string) => new ShadowtapError('ST_USAGE', message);
export const configError = (message: string) => new ShadowtapError('ST_CONFIG', message);
export const logUnreachable = (message: string, cause?: unknown) =>
  new ShadowtapError('ST_LOG_UNREACHABLE', message, { cause, retriable: true });
