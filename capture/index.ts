/**
 * shadowtap's capture library: the reverse proxy / mirror target, the in-process middleware, and
 * the importers. `main` of the package points here.
 */
export { createCapture, startCaptureServer, type CaptureOptions, type CaptureServer, type CaptureServerOptions } from './capture-server.js';
export type { CaptureMode, CaptureModeFactory } from './capture-mode.js';
export { proxyMode, type ProxyModeOptions } from './proxy-handler.js';
export { mirrorMode } from './mirror-handler.js';
export { captureMiddleware, captureFastifyPlugin, type CaptureMiddleware, type CaptureMiddlewareOptions } from './middleware.js';
export type { CaptureCounters } from './capture-metrics.js';
export {
  captureServerDefaults,
  recorderDefaults,
  type QueueOptions,
  type RecorderOptions,
  type RedactionMode,
  type RedactionOptions,
  type SamplingOptions,
} from './capture-options.js';
export { createCaptureLogger } from './capture-logger.js';
export { importCaptures, type ImportItem, type ImportOptions, type ImportSource, type ImportSummary } from './capture-importer.js';
export { harItems } from './import-har.js';
export { goreplayItems } from './import-goreplay.js';
