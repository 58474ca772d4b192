import { replayMarkerHeader } from '../shared/records/replay-markers.js';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * How a request is recognised as shadow traffic: the replay's marker headers (shadowtap sends
 * both), nginx mirroring's `X-Mirrored-Request: true` from the article, or Istio mirroring,
 * which appends `-shadow` to the Host of every copy it sends.
 */
export function hasShadowMarkers(headers: IncomingHttpHeaders): boolean {
  const replay = headers[replayMarkerHeader];
  if (replay !== undefined && replay !== '0' && replay !== 'false') return true;
  if (headers['x-mirrored-request'] === 'true') return true;
  return headers.host?.endsWith('-shadow') ?? false;
}

/**
 * What SHADOW_MODE says about the whole process: `true`, every request (and code outside
 * requests) is in shadow context; `false`, none is, whatever a request's headers claim (set it on
 * stable, so a client cannot switch stable into shadow mode with a forged header); unset, per request.
 */
export function processShadowMode(env: NodeJS.ProcessEnv): boolean | undefined {
  const value = env.SHADOW_MODE?.trim().toLowerCase();
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return undefined;
}
