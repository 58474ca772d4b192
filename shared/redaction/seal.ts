import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import type { Header, SealedSecrets } from '../records/types.js';

/**
 * Sealing: the originals of what redaction replaced are encrypted to the replay worker's public
 * key, so capture agents in production hold only a public key and cannot read what they stored,
 * while a replay worker holding the private key can send the shadow the request stable received.
 *
 * Scheme (ECIES-like, node:crypto only): a fresh X25519 key pair per record, Diffie-Hellman with
 * the recipient's public key, HKDF-SHA256 (salt = ephemeral public key, info = scheme and key id)
 * to a 256-bit key, AES-256-GCM. Payload = ephemeral public key (32) ‖ nonce (12) ‖ tag (16) ‖
 * ciphertext. The key id is authenticated as additional data, so a payload cannot be moved to
 * another key id.
 */
export const SEAL_SCHEME = 'x25519-hkdf-sha256-aes-256-gcm';

const RAW_KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
// DER prefix of an X25519 SubjectPublicKeyInfo: the raw 32-byte key follows it.
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

export interface SealingKey {
  keyId: string;
  publicKey: KeyObject;
}

export interface OpeningKey {
  keyId: string;
  privateKey: KeyObject;
}

/** The original request parts that redaction changed, as the replay needs them to send the original. */
export interface SealedRequest {
  /** The original path, when redaction changed it (absent in records of older agents). */
  path?: string;
  headers: Header[];
  query: string;
  /** Base64 of the original body bytes, or null when the body was not changed. */
  body: string | null;
}

/** A new X25519 key pair as PEM texts, with a key id derived from the public key. */
export function generateSealKeys(): { keyId: string; publicKeyPem: string; privateKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  return {
    keyId: keyIdOf(publicKey),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** A stable short id of a public key: the first 16 hex digits of the SHA-256 of its raw bytes. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(rawPublicKey(publicKey)).digest('hex').slice(0, 16);
}

export function sealingKeyFromPem(pem: string): SealingKey {
  const publicKey = createPublicKey(pem);
  if (publicKey.asymmetricKeyType !== 'x25519') throw new Error(`the seal public key must be an X25519 key, not ${publicKey.asymmetricKeyType}`);
  return { keyId: keyIdOf(publicKey), publicKey };
}

export function openingKeyFromPem(pem: string): OpeningKey {
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== 'x25519') throw new Error(`the seal private key must be an X25519 key, not ${privateKey.asymmetricKeyType}`);
  return { keyId: keyIdOf(createPublicKey(privateKey)), privateKey };
}

export function seal(key: SealingKey, plaintext: Buffer): SealedSecrets {
  const ephemeral = generateKeyPairSync('x25519');
  const ephemeralRaw = rawPublicKey(ephemeral.publicKey);
  const secret = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: key.publicKey });
  const aesKey = deriveKey(secret, ephemeralRaw, key.keyId);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', aesKey, nonce);
  cipher.setAAD(Buffer.from(key.keyId));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { keyId: key.keyId, scheme: SEAL_SCHEME, payload: Buffer.concat([ephemeralRaw, nonce, cipher.getAuthTag(), ciphertext]) };
}

/** Decrypts a sealed payload; throws when the key id, scheme or any byte does not match. */
export function unseal(key: OpeningKey, sealed: SealedSecrets): Buffer {
  if (sealed.scheme !== SEAL_SCHEME) throw new Error(`unknown seal scheme ${sealed.scheme}`);
  if (sealed.keyId !== key.keyId) throw new Error(`sealed with key ${sealed.keyId}, but the key given is ${key.keyId}`);
  const { payload } = sealed;
  if (payload.length < RAW_KEY_BYTES + NONCE_BYTES + TAG_BYTES) throw new Error('sealed payload is too short');
  const ephemeralRaw = payload.subarray(0, RAW_KEY_BYTES);
  const nonce = payload.subarray(RAW_KEY_BYTES, RAW_KEY_BYTES + NONCE_BYTES);
  const tag = payload.subarray(RAW_KEY_BYTES + NONCE_BYTES, RAW_KEY_BYTES + NONCE_BYTES + TAG_BYTES);
  const ephemeralPublic = createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, ephemeralRaw]), format: 'der', type: 'spki' });
  const secret = diffieHellman({ privateKey: key.privateKey, publicKey: ephemeralPublic });
  const decipher = createDecipheriv('aes-256-gcm', deriveKey(secret, ephemeralRaw, key.keyId), nonce);
  decipher.setAAD(Buffer.from(key.keyId));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(payload.subarray(RAW_KEY_BYTES + NONCE_BYTES + TAG_BYTES)), decipher.final()]);
}

export function sealRequest(key: SealingKey, original: SealedRequest): SealedSecrets {
  return seal(key, Buffer.from(JSON.stringify(original)));
}

export function unsealRequest(key: OpeningKey, sealed: SealedSecrets): SealedRequest {
  return JSON.parse(unseal(key, sealed).toString('utf8')) as SealedRequest;
}

function deriveKey(secret: Buffer, salt: Buffer, keyId: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, salt, `${SEAL_SCHEME}:${keyId}`, 32));
}

function rawPublicKey(publicKey: KeyObject): Buffer {
  return publicKey.export({ type: 'spki', format: 'der' }).subarray(X25519_SPKI_PREFIX.length);
}
