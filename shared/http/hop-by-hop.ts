/**
 * Headers that describe one connection, not the message (RFC 9110 §7.6.1): capture never records
 * them and replay never sends them. Lower-case names.
 */
export const hopByHopHeaders: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** The lower-case header names a Connection header value makes hop-by-hop for its one message (`close` names none). */
export function connectionListed(value: string): string[] {
  const names: string[] = [];
  for (const token of value.split(',')) {
    const name = token.trim().toLowerCase();
    if (name && name !== 'close') names.push(name);
  }
  return names;
}
