/**
 * Names whose values are secrets, after Sentry's default data scrubbing: a name is sensitive when,
 * lower-cased and stripped of separators, it contains one of these words ("X-Auth-Token",
 * "client_secret", "apiKey", "set-cookie" all match).
 */
const sensitiveSubstrings = [
  'password',
  'passwd',
  'secret',
  'token',
  'apikey',
  'auth',
  'credential',
  'privatekey',
  'mysqlpwd',
  'session',
  'cookie',
  'creditcard',
  'cardnumber',
  'signature',
];

/** Short names matched whole, so "classname" is not taken for "ssn". */
const sensitiveExact = new Set(['pwd', 'ssn', 'cvv', 'cvc', 'pin', 'otp']);

const normalize = (name: string) => name.toLowerCase().replace(/[^a-z0-9]/g, '');

export function isSensitiveName(name: string): boolean {
  const n = normalize(name);
  return sensitiveExact.has(n) || sensitiveSubstrings.some((word) => n.includes(word));
}
