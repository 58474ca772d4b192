import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configError, usageError } from '../errors.js';
import { generateSealKeys, openingKeyFromPem, type OpeningKey } from './seal.js';

export interface WrittenSealKeys {
  keyId: string;
  publicKeyFile: string;
  privateKeyFile: string;
}

/**
 * Writes a new key pair into `dir` as `shadowtap-seal-<key id>.public.pem` and `.private.pem`
 * (the private one readable by its owner only). The key id in the names lets a folder hold the
 * keys of several rotations side by side. Existing files are never overwritten.
 */
export async function writeSealKeys(dir: string): Promise<WrittenSealKeys> {
  const keys = generateSealKeys();
  const publicKeyFile = join(dir, `shadowtap-seal-${keys.keyId}.public.pem`);
  const privateKeyFile = join(dir, `shadowtap-seal-${keys.keyId}.private.pem`);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(privateKeyFile, keys.privateKeyPem, { mode: 0o600, flag: 'wx' });
    await writeFile(publicKeyFile, keys.publicKeyPem, { mode: 0o644, flag: 'wx' });
  } catch (error) {
    throw usageError(`cannot write the seal keys into ${dir}: ${(error as Error).message}; pass --out with a folder you can write to`);
  }
  return { keyId: keys.keyId, publicKeyFile, privateKeyFile };
}

/**
 * A private key a replay worker may open sealed captures with, from a PEM file's path or, as an
 * environment variable would carry it, the PEM text itself. Read at start-up, synchronously, as
 * the flag is parsed.
 */
export function readOpeningKey(source: string, flag: string): OpeningKey {
  const isPem = source.trimStart().startsWith('-----BEGIN');
  let pem: string;
  try {
    pem = isPem ? source : readFileSync(source, 'utf8');
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw configError(`${flag} ${source}: ${why}; give the .private.pem file written by shadowtap keys generate`);
  }
  try {
    return openingKeyFromPem(pem);
  } catch (error) {
    const where = isPem ? 'the PEM text given' : source;
    throw configError(`${flag}: ${where} is not an X25519 private key (${(error as Error).message.split('\n')[0]}); give the .private.pem file written by shadowtap keys generate`);
  }
}
