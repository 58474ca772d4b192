import { prepareRequest, type RequestSecrets } from '../replay/redacted-request.js';
import { buildRequest, type RequestRules } from '../replay/request-builder.js';
import { ShadowRedaction } from '../replay/shadow-redaction.js';
import type { Capture, HttpResponse } from '../shared/records/types.js';
import { resolveRedaction } from '../shared/redaction/redaction-options.js';
import { Redactor } from '../shared/redaction/redactor.js';
import { generateSealKeys, openingKeyFromPem } from '../shared/redaction/seal.js';
import { makeCapture } from '../test/helpers/replay-helpers.js';
import { itemsDocument } from './fixtures.js';

/**
 * What secrets cost the replay per request: opening a sealed capture (X25519 + AES-GCM) and
 * redacting the shadow's ~1 KB JSON answer, against building the request alone (the baseline,
 * what every send pays anyway), all measured in this run.
 */
const count = Number(process.env.BENCH_CAPTURES) || 5000;
const keys = generateSealKeys();
const sealer = new Redactor(resolveRedaction({ mode: 'seal', sealPublicKey: keys.publicKeyPem }));
const captures: Capture[] = [];
for (let i = 0; i < count; i++) {
  const capture = makeCapture(`c${i}`, Date.now(), {
    path: `/orders/${i}`,
    query: `token=tok_${i}_abcdefgh&page=2`,
    headers: [
      { name: 'host', value: 'stable.local' },
      { name: 'authorization', value: `Bearer secret-${i}-0123456789` },
      { name: 'accept', value: 'application/json' },
    ],
  });
  captures.push(await sealer.redact(capture));
}
const target = new URL('http://shadow:8080');
const rules: RequestRules = { target, setHeaders: [], removeHeaders: new Set() };
const secrets: RequestSecrets = { openingKeys: new Map([[keys.keyId, openingKeyFromPem(keys.privateKeyPem)]]), allowMasked: false, replacedHeaders: new Set() };
const answer = (): HttpResponse => {
  const body = Buffer.from(itemsDocument.replace('{', '{"access_token":"tok_live_0123456789abcdef",'));
  return { status: 200, headers: [{ name: 'content-type', value: 'application/json' }, { name: 'set-cookie', value: 'sid=abc123456789' }], body, size: body.length, truncated: false, sha256: null };
};
const redaction = new ShadowRedaction(resolveRedaction({ mode: 'seal' }, { sealing: false }));

async function timed(label: string, run: (capture: Capture) => unknown): Promise<number> {
  for (const capture of captures.slice(0, 500)) await run(capture); // warm-up
  const start = process.hrtime.bigint();
  for (const capture of captures) await run(capture);
  const micros = Number(process.hrtime.bigint() - start) / 1000 / captures.length;
  console.log(`${label.padEnd(48)} ${micros.toFixed(1).padStart(7)} µs a request`);
  return micros;
}

const base = await timed('build the request (baseline)', (c) => buildRequest(c.request, rules));
const masked = await timed('masked send: prepare + build', (c) => buildRequest(handle(prepareRequest(c, { ...secrets, openingKeys: new Map(), allowMasked: true })), rules));
const sealed = await timed('sealed send: unseal + prepare + build', (c) => buildRequest(handle(prepareRequest(c, secrets)), rules));
const answered = await timed('sealed send + redact the 1 KB JSON answer', async (c) => {
  const request = handle(prepareRequest(c, secrets));
  buildRequest(request, rules);
  await redaction.redact(answer(), request, c.redactionMode);
});
console.log(`\nratios to the baseline: masked ${(masked / base).toFixed(2)}×, sealed ${(sealed / base).toFixed(2)}×, sealed + answer redacted ${(answered / base).toFixed(2)}×`);

function handle(prepared: ReturnType<typeof prepareRequest>) {
  if ('skip' in prepared) throw new Error(`unexpected skip: ${prepared.skip}`);
  return prepared.request;
}
