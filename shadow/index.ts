/**
 * `shadowtap/shadow`: shadow mode for the service under test. Node built-ins only; undici is
 * used only through the dispatchers the service already has.
 */
export { shadowMode, type ShadowMode, type ShadowModeOptions } from './shadow-mode.js';
export { isShadow, captureId } from './outbound-scope.js';
export { guard } from './guard.js';
export { shadowInterceptor } from './outbound-undici.js';
export { defaultStandIn, type OutboundCall, type OutboundPolicyOptions, type StandIn } from './outbound-policy.js';
export { standInHeader } from './stand-in-answer.js';
export { guardMarkerHeader, effectsHeader, maxEffectsHeaderBytes, captureIdHeader } from '../shared/records/side-effects.js';
