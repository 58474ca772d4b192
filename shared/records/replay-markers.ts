import type { Header } from './types.js';

/**
 * The headers every replayed request carries, so the shadow can switch into its shadow mode: the
 * replay sets them, the diff leaves them out of its comparison (the shadow may echo them, stable
 * never got them). One list, so the two never disagree.
 */
export const replayMarkerHeader = 'x-shadowtap-replay';
/** nginx mirroring's marker, sent too, so a shadow already set up for it needs nothing new. */
export const mirroredRequestHeader = 'x-mirrored-request';

/** Name and value as sent (the names in the case undici writes them). */
export const replayMarkers: readonly Header[] = Object.freeze([
  Object.freeze({ name: replayMarkerHeader, value: '1' }),
  Object.freeze({ name: 'X-Mirrored-Request', value: 'true' }),
]);

/** The markers' names in lower case. */
export const replayMarkerNames: readonly string[] = replayMarkers.map((h) => h.name.toLowerCase());
