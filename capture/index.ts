export { startCaptureServer, captureServerDefaults, type CaptureServer, type CaptureServerOptions } from './capture-server.js';
export type { CaptureCounters } from './capture-metrics.js';
export type { QueueOptions, RecorderOptions, RedactionMode, RedactionOptions, SamplingOptions } from './capture-options.js';
export { recorderDefaults } from './capture-options.js';
export { captureMiddleware, captureFastifyPlugin, type CaptureMiddleware, type CaptureMiddlewareOptions } from './middleware.js';
export { importCaptures, type ImportItem, type ImportOptions, type ImportSource, type ImportSummary } from './capture-importer.js';
export { harItems } from './import-har.js';
export { goreplayItems } from './import-goreplay.js';
