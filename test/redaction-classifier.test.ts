import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findSecretValues, ibanValid, luhnValid } from '../shared/redaction/secret-values.js';
import { isSensitiveName } from '../shared/redaction/sensitive-names.js';
import { loadRedactionCorpus, scoreNames, scoreValues } from './helpers/redaction-corpus.js';

describe('redaction classifier', () => {
  const corpus = loadRedactionCorpus();

  test('the corpus is what it claims: thousands of distinct real names from many API descriptions, with secrets among them', () => {
    const distinct = new Set(corpus.names.map((n) => n.name));
    assert.ok(distinct.size >= 2000, `${distinct.size} distinct names`);
    assert.ok(corpus.sources.length >= 30);
    assert.ok(corpus.names.filter((n) => n.secret).length >= 200);
    assert.ok(corpus.values.filter((v) => !v.secret).length >= 1000);
    assert.ok(corpus.values.filter((v) => v.secret).length >= 200);
  });

  test('names: precision and recall of at least 0.99 on the real-name corpus', () => {
    const score = scoreNames(corpus);
    assert.ok(score.precision >= 0.99, `precision ${score.precision}; false positives: ${score.falsePositives.join(', ')}`);
    assert.ok(score.recall >= 0.99, `recall ${score.recall}; false negatives: ${score.falseNegatives.join(', ')}`);
  });

  test('values: precision and recall of at least 0.99 on the value samples', () => {
    const score = scoreValues(corpus);
    assert.ok(score.precision >= 0.99, `precision ${score.precision}; false positives: ${score.falsePositives.join(', ')}`);
    assert.ok(score.recall >= 0.99, `recall ${score.recall}; false negatives: ${score.falseNegatives.join(', ')}`);
  });

  test('words, not substrings: the names of issue 11', () => {
    const ordinary = ['author', 'authorId', 'authority', 'author_count', 'tokens_used', 'passwordless', 'auth_method', 'sessions_count', 'signature_algorithm', 'tokenizer',
      'Access-Control-Allow-Credentials', 'WWW-Authenticate', 'X-Session-Count', 'next_page_token', 'max_tokens', 'has_password', 'token_type', 'public_key', 'key_id'];
    const secret = ['key', 'sig', 'AWSAccessKeyId', 'X-Access-Key', 'X-Client-Key', 'iban', 'pan', 'password', 'client_secret', 'api_key', 'apiKey', 'access_token',
      'refresh_token', 'Authorization', 'Cookie', 'Set-Cookie', 'X-Amz-Security-Token', 'X-Hub-Signature-256', 'csrfmiddlewaretoken', 'card_number'];
    for (const name of ordinary) assert.equal(isSensitiveName(name), false, name);
    for (const name of secret) assert.equal(isSensitiveName(name), true, name);
    assert.equal(isSensitiveName('code'), false, 'a code is an ordinary word');
    assert.equal(isSensitiveName('code', { oauth: true }), true, 'but the code of an OAuth callback is the authorization code');
    assert.equal(isSensitiveName('key', { json: true }), false, 'a lone key in JSON is a map key');
  });

  test('values: checks that keep ordinary look-alikes out', () => {
    assert.ok(luhnValid('4242424242424242'));
    assert.ok(!luhnValid('4242424242424241'));
    assert.deepEqual(findSecretValues('order 4242424242424241 shipped'), [], 'a 16-digit number failing Luhn is no card');
    assert.deepEqual(findSecretValues('at 1732900000000000 µs'), [], 'a timestamp is no card');
    assert.ok(ibanValid('DE89370400440532013000'));
    assert.ok(!ibanValid('DE89370400440532013001'));
    assert.deepEqual(findSecretValues('sha 3f786850e387550fdab836ed7e6dc881de23001b'), [], 'a git SHA is no secret');
    assert.deepEqual(findSecretValues('id 9b2c7e1e-7d5f-4c1a-9a3e-2f1d7b6c5a40'), [], 'a UUID is no secret');
    assert.deepEqual(findSecretValues('Basic information about the plan'), [], 'the word Basic is no credential');
    const [card] = findSecretValues('pay with 4111 1111 1111 1111 today');
    assert.equal(card.rule, 'card-number');
    assert.deepEqual(findSecretValues('https://ann:s3cr3t-pw@example.com/x').map((m) => m.rule), ['url-credentials']);
  });
});
