import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { generateSealKeys, openingKeyFromPem, sealingKeyFromPem, sealRequest, unsealRequest, type SealedRequest } from '../shared/redaction/seal.js';

const original: SealedRequest = {
  headers: [{ name: 'Authorization', value: 'Bearer SEKRIT-SEAL-1' }],
  query: 'token=SEKRIT-SEAL-2&page=3',
  body: Buffer.from('{"password":"SEKRIT-SEAL-3"}').toString('base64'),
};

describe('seal', () => {
  test('a sealed request opens with the matching private key, byte for byte, and names its key id', () => {
    const keys = generateSealKeys();
    const sealed = sealRequest(sealingKeyFromPem(keys.publicKeyPem), original);
    assert.equal(sealed.keyId, keys.keyId);
    assert.equal(openingKeyFromPem(keys.privateKeyPem).keyId, keys.keyId);
    for (const secret of ['SEKRIT-SEAL-1', 'SEKRIT-SEAL-2']) assert.equal(sealed.payload.includes(secret), false, `${secret} readable in the payload`);
    assert.deepEqual(unsealRequest(openingKeyFromPem(keys.privateKeyPem), sealed), original);
  });

  test('two seals of the same request differ (fresh ephemeral key and nonce each time)', () => {
    const key = sealingKeyFromPem(generateSealKeys().publicKeyPem);
    assert.notDeepEqual(sealRequest(key, original).payload, sealRequest(key, original).payload);
  });

  test('a payload changed in any byte is refused', () => {
    const keys = generateSealKeys();
    const sealed = sealRequest(sealingKeyFromPem(keys.publicKeyPem), original);
    const opening = openingKeyFromPem(keys.privateKeyPem);
    // One flipped bit in the ephemeral key, the nonce, the tag and the ciphertext.
    for (const at of [0, 40, 50, sealed.payload.length - 1]) {
      const payload = Buffer.from(sealed.payload);
      payload[at] ^= 1;
      assert.throws(() => unsealRequest(opening, { ...sealed, payload }), `a change at byte ${at} was accepted`);
    }
    assert.throws(() => unsealRequest(opening, { ...sealed, payload: sealed.payload.subarray(0, 20) }), /too short/);
  });

  test('a payload is refused by another key, and cannot be relabelled with that key id', () => {
    const a = generateSealKeys();
    const b = generateSealKeys();
    assert.notEqual(a.keyId, b.keyId);
    const sealed = sealRequest(sealingKeyFromPem(a.publicKeyPem), original);
    const other = openingKeyFromPem(b.privateKeyPem);
    assert.throws(() => unsealRequest(other, sealed), new RegExp(`sealed with key ${a.keyId}`));
    // The key id is authenticated: claiming the other key's id does not make the payload open.
    assert.throws(() => unsealRequest(other, { ...sealed, keyId: b.keyId }));
    assert.throws(() => unsealRequest(openingKeyFromPem(a.privateKeyPem), { ...sealed, scheme: 'rot13' }), /unknown seal scheme/);
  });

  test('keys of another type are refused with a message naming X25519', () => {
    assert.throws(() => sealingKeyFromPem(generateEd25519Pem()), /X25519/);
  });
});

function generateEd25519Pem(): string {
  return generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
}
