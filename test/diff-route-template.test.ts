import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detectSegment, routeTemplate } from '../diff/route-template.js';

/** Each segment and what detection must make of it: ids become placeholders, names stay. */
const segments: Array<[string, string]> = [
  // ids, SKUs, ticket keys: mixed letters and digits
  ['GH-4444', '{id}'],
  ['AB-1', '{id}'],
  ['SKU-123', '{id}'],
  ['a1b2c3', '{id}'],
  ['ord_8F3k2', '{id}'],
  ['user123', '{id}'],
  ['INV-2026-0042', '{id}'],
  ['cus_9fQ2xZ', '{id}'],
  ['A1B', '{id}'],
  ['page2', '{id}'],
  // the kinds detected before
  ['42', '{id}'],
  ['3f2a1c9e-1b2c-4d5e-8f90-a1b2c3d4e5f6', '{uuid}'],
  ['2026-01-31', '{date}'],
  ['deadbeef01', '{hex}'],
  // versions stay
  ['v1', 'v1'],
  ['v2', 'v2'],
  ['V3', 'V3'],
  ['v10', 'v10'],
  ['v1beta1', 'v1beta1'],
  ['v2alpha', 'v2alpha'],
  // words, and words that happen to hold a digit
  ['api', 'api'],
  ['users', 'users'],
  ['me', 'me'],
  ['en-US', 'en-US'],
  ['oauth2', 'oauth2'],
  ['OAuth2', 'OAuth2'],
  ['http2', 'http2'],
  ['s3', 's3'],
  ['ec2', 'ec2'],
  ['2fa', '2fa'],
  ['ipv6', 'ipv6'],
  ['sha256', 'sha256'],
  ['base64', 'base64'],
  ['i18n', 'i18n'],
  ['k8s', 'k8s'],
  ['a11y', 'a11y'],
  ['1st', '1st'],
  ['x1', 'x1'],
  // file names keep their dots, so assets are not folded into one id
  ['app.css', 'app.css'],
  ['logo@2x.png', 'logo@2x.png'],
  ['jquery-3.6.0.min.js', 'jquery-3.6.0.min.js'],
];

test('segment detection: ids and SKUs become {id}; versions and digit words stay', () => {
  const wrong = segments.filter(([segment, want]) => detectSegment(segment) !== want).map(([s, want]) => `${s}: got ${detectSegment(s)}, want ${want}`);
  assert.deepEqual(wrong, []);
});

test('whole paths: one template per endpoint whatever the ids', () => {
  assert.equal(routeTemplate('/api/v2/issues/GH-4444/comments'), '/api/v2/issues/{id}/comments');
  assert.equal(routeTemplate('/api/v2/issues/GH-17/comments'), '/api/v2/issues/{id}/comments');
  assert.equal(routeTemplate('/products/SKU-123'), '/products/{id}');
  assert.equal(routeTemplate('/orders/ord_8F3k2/items/a1b2c3'), '/orders/{id}/items/{id}');
  assert.equal(routeTemplate('/oauth2/token'), '/oauth2/token');
  assert.equal(routeTemplate('/auth/2fa/verify'), '/auth/2fa/verify');
  assert.equal(routeTemplate('/products/SKU%2D123'), '/products/{id}');
});
