import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { CaptureRecorder } from './capture-recorder.js';

/**
 * How the capture agent gets its exchanges: a handler over the agent's one recorder. The agent
 * (createCapture) owns the server, metrics and draining; a mode only answers requests.
 * proxyMode (proxy-handler.ts) forwards to stable; mirrorMode (mirror-handler.ts) records copies.
 */
export interface CaptureMode {
  /** What the start-up log line says about the mode. */
  readonly describe: Record<string, unknown>;
  request(req: IncomingMessage, res: ServerResponse): void;
  /** An Upgrade (WebSocket) request: passed through or refused, never recorded. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Releases what the mode holds (the upstream's connections), after the last exchange. */
  close(): Promise<void>;
}

/** A mode is made once the agent has its recorder and its server's largest head size. */
export type CaptureModeFactory = (recorder: CaptureRecorder, server: { maxHeaderBytes: number }) => CaptureMode;
