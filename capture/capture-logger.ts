import { pino, type Logger } from 'pino';

/**
 * Structured logs on stderr. Capture code logs ids, counts and reasons, never header values or
 * bodies; the redact paths are a second guard should a request object ever be logged.
 */
export function createCaptureLogger(level = 'info'): Logger {
  return pino(
    {
      name: 'shadowtap-capture',
      level,
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["set-cookie"]', 'headers.authorization', 'headers.cookie'],
        censor: '[redacted]',
      },
    },
    pino.destination(2),
  );
}
