import http from 'node:http';
import { Agent, request as undiciRequest } from 'undici';
import { captureId, guard, isShadow, shadowInterceptor } from '../../shadow/index.js';

/** node:http request that resolves with status and body. */
export function httpCall(url: string, method: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** An app-built undici dispatcher with the shadow interceptor composed in. */
export const composed = new Agent().compose(shadowInterceptor());
/** How many times the guarded action really ran. */
export let published = 0;

/** What every app does for a request: every kind of outbound call, then answers with what it saw. */
export async function callOut(receiver: string) {
  const statuses: Record<string, number> = {};
  statuses.fetchGet = (await fetch(`${receiver}/items/42`)).status;
  const mail = await fetch(`${receiver}/mail/send`, { method: 'POST', body: JSON.stringify({ to: 'a@example.test' }) });
  statuses.fetchPost = mail.status;
  statuses.standInHeader = mail.headers.get('x-shadowtap-stand-in') === '1' ? 1 : 0;
  statuses.httpGet = (await httpCall(`${receiver}/stock/7`, 'GET')).status;
  statuses.httpPost = (await httpCall(`${receiver}/orders`, 'POST', '{"qty":1}')).status;
  const payment = await undiciRequest(`${receiver}/payments`, { method: 'POST', body: 'charge' });
  await payment.body.dump();
  statuses.undiciPost = payment.statusCode;
  const audit = await composed.request({ origin: receiver, path: '/audit/9', method: 'PUT', body: 'x' });
  await audit.body.dump();
  statuses.composedPut = audit.statusCode;
  statuses.guard = await guard('queue.publish', () => ++published, -1);
  return { shadow: isShadow(), captureId: captureId(), statuses };
}

