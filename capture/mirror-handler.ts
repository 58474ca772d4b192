import type { IncomingMessage, ServerResponse } from 'node:http';
import { nowMicros } from '../shared/records/types.js';
import type { CaptureModeFactory } from './capture-mode.js';
import type { CaptureRecorder } from './capture-recorder.js';

/** Istio/Envoy mirroring appends "-shadow" to the host (before any port); the recorded host drops it. */
export function stripShadowSuffix(host: string): string {
  return host.replace(/-shadow(?=(:\d+)?$)/, '');
}

/**
 * Receives a copy sent by Istio/Envoy, nginx `mirror` or GoReplay: answers 200 at once (the
 * sender ignores the answer) and records the request alone.
 */
export function mirrorRequest(recorder: CaptureRecorder, req: IncomingMessage, res: ServerResponse): void {
  const exchange = recorder.begin('mirror', req.method ?? 'GET', req.url ?? '/', req.rawHeaders, req.headers);
  exchange.requestHeaders = exchange.requestHeaders.map((h) =>
    h.name.toLowerCase() === 'host' ? { name: h.name, value: stripShadowSuffix(h.value) } : h,
  );
  const requestBody = recorder.bodyTap();
  // Reading starts before answering, so node does not discard the rest of the body.
  req.on('data', (chunk: Buffer) => {
    if (exchange.sampling.sampled) requestBody.add(chunk);
  });
  req.on('close', () => {
    recorder.complete(exchange, {
      requestBody,
      response: null,
      upstreamError: req.complete ? null : 'mirror sender closed the connection before the body ended',
      firstByte: null,
      end: nowMicros(),
    });
  });
  res.writeHead(200, { 'content-length': '0' }).end();
}

/** Mirror-target mode: records the copies; Upgrade requests get 501 (there is no stable to tunnel to). */
export function mirrorMode(): CaptureModeFactory {
  return (recorder) => ({
    describe: { mirrorTarget: true },
    request: (req, res) => mirrorRequest(recorder, req, res),
    upgrade: (_req, socket) => void socket.end('HTTP/1.1 501 Not Implemented\r\ncontent-length: 0\r\nconnection: close\r\n\r\n'),
    close: async () => undefined,
  });
}
