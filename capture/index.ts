export { startCaptureServer, captureServerDefaults, type CaptureServer, type CaptureServerOptions } from './capture-server.js';
export type { CaptureCounters } from './capture-metrics.js';
export type { QueueOptions, RecorderOptions, RedactionMode, RedactionOptions, SamplingOptions } from './capture-options.js';
export { recorderDefaults } from './capture-options.js';
