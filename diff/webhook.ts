import type { DiffReport } from './report.js';
import { headline } from './render/format.js';

const maxBreachesListed = 10;

/** A Slack-compatible message (`{text}`; also accepted by Mattermost, Rocket.Chat and most chat webhooks). */
export function webhookPayload(report: DiffReport): { text: string } {
  const lines = [`shadowtap diff ${report.verdict === 'pass' ? 'passed' : 'FAILED'}: ${headline(report)}`];
  for (const b of report.breaches.slice(0, maxBreachesListed)) lines.push(`• ${b.message}`);
  if (report.breaches.length > maxBreachesListed) lines.push(`… and ${report.breaches.length - maxBreachesListed} more`);
  return { text: lines.join('\n') };
}

/** Posts the summary; a failing webhook is reported to the caller, never thrown, so the report still stands. */
export async function postWebhook(url: string, report: DiffReport, timeoutMs = 10_000): Promise<string | undefined> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(webhookPayload(report)),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.arrayBuffer();
    return response.ok ? undefined : `webhook answered ${response.status}`;
  } catch (error) {
    return `webhook failed: ${(error as Error).message}`;
  }
}
