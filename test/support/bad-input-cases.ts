import { uid, type PaymentBody } from './http.js';

/**
 * The bad-input cases, shared by the unit layer (the real app through `app.inject`, with
 * services that fail the test if reached) and the integration layer (real HTTP, and rows
 * counted before and after). `manualPaymentId` is a payment waiting for capture where there is
 * one (integration); elsewhere any well-formed id.
 */
export interface CaseContext {
  customerId: string;
  manualPaymentId: () => string;
}

export type Case = [
  name: string,
  method: string,
  path: () => string,
  body: unknown,
  status: number,
  code: string,
  options?: Record<string, any>,
];

const pay = '/v1/payments';

/** A valid card payment body for a fresh order: each case spoils one part of it. */
export const validPayment = (customerId: string): PaymentBody => ({
  orderId: uid('ord'),
  customerId,
  amount: 1000,
  currency: 'USD',
  method: { type: 'card', token: 'tok_test_4242' },
});

export function badInputCases({ customerId, manualPaymentId }: CaseContext): Case[] {
  const valid = () => validPayment(customerId);
  return [
    ['zero amount', 'POST', () => pay, { ...valid(), amount: 0 }, 400, 'validation_error'],
    ['negative amount', 'POST', () => pay, { ...valid(), amount: -100 }, 400, 'validation_error'],
    ['fractional amount', 'POST', () => pay, { ...valid(), amount: 10.5 }, 400, 'validation_error'],
    ['huge amount', 'POST', () => pay, { ...valid(), amount: 1e15 }, 400, 'validation_error'],
    ['amount as a string', 'POST', () => pay, { ...valid(), amount: '1000' }, 400, 'validation_error'],
    ['amount null', 'POST', () => pay, { ...valid(), amount: null }, 400, 'validation_error'],
    ['unknown currency', 'POST', () => pay, { ...valid(), currency: 'XYZ' }, 400, 'validation_error'],
    ['lowercase currency', 'POST', () => pay, { ...valid(), currency: 'usd' }, 400, 'validation_error'],
    ['missing currency', 'POST', () => pay, { ...valid(), currency: undefined }, 400, 'validation_error'],
    ['missing orderId', 'POST', () => pay, { ...valid(), orderId: undefined }, 400, 'validation_error'],
    ['customerId as a number', 'POST', () => pay, { ...valid(), customerId: 42 }, 400, 'validation_error'],
    [
      'oversized orderId',
      'POST',
      () => pay,
      { ...valid(), orderId: 'o'.repeat(300) },
      400,
      'validation_error',
    ],
    ['orderId with separators', 'POST', () => pay, { ...valid(), orderId: 'a:b c' }, 400, 'validation_error'],
    ['missing method', 'POST', () => pay, { ...valid(), method: undefined }, 400, 'validation_error'],
    [
      'unknown method type',
      'POST',
      () => pay,
      { ...valid(), method: { type: 'bitcoin' } },
      400,
      'validation_error',
    ],
    [
      'card without token',
      'POST',
      () => pay,
      { ...valid(), method: { type: 'card' } },
      400,
      'validation_error',
    ],
    [
      'raw card number as token',
      'POST',
      () => pay,
      { ...valid(), method: { type: 'card', token: '4242424242424242' } },
      400,
      'validation_error',
    ],
    ['unknown capture mode', 'POST', () => pay, { ...valid(), capture: 'later' }, 400, 'validation_error'],
    ['unknown field', 'POST', () => pay, { ...valid(), surprise: true }, 400, 'validation_error'],
    [
      'oversized description',
      'POST',
      () => pay,
      { ...valid(), description: 'd'.repeat(5000) },
      400,
      'validation_error',
    ],
    [
      'too many metadata keys',
      'POST',
      () => pay,
      { ...valid(), metadata: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, 'v'])) },
      400,
      'validation_error',
    ],
    [
      'a reserved metadata key (paysaga.reply claims the food-ordering answer)',
      'POST',
      () => pay,
      { ...valid(), metadata: { 'paysaga.reply': 'OrderPayment' } },
      400,
      'validation_error',
    ],
    [
      'a metadata key over 40 characters',
      'POST',
      () => pay,
      { ...valid(), metadata: { ['k'.repeat(41)]: 'v' } },
      400,
      'validation_error',
    ],
    [
      'a metadata value over 500 characters',
      'POST',
      () => pay,
      { ...valid(), metadata: { note: 'é'.repeat(501) } },
      400,
      'validation_error',
    ],
    [
      'non-string metadata value',
      'POST',
      () => pay,
      { ...valid(), metadata: { a: 1 } },
      400,
      'validation_error',
    ],
    ['array body', 'POST', () => pay, [valid()], 400, 'validation_error'],
    ['malformed JSON', 'POST', () => pay, undefined, 400, 'invalid_json', { raw: '{"orderId": "x",' }],
    ['empty JSON body', 'POST', () => pay, undefined, 400, 'invalid_json', { raw: '' }],
    [
      'wrong content type',
      'POST',
      () => pay,
      undefined,
      415,
      'unsupported_media_type',
      { raw: 'amount=1', headers: { 'content-type': 'text/plain' } },
    ],
    [
      'body over 64 KiB',
      'POST',
      () => pay,
      { ...valid(), description: 'x'.repeat(70_000) },
      413,
      'body_too_large',
    ],
    ['no API key', 'POST', () => pay, valid(), 401, 'unauthorized', { key: null }],
    ['unknown API key', 'POST', () => pay, valid(), 401, 'unauthorized', { key: 'sk_live_nope' }],
    [
      'oversized Idempotency-Key',
      'POST',
      () => pay,
      valid(),
      400,
      'invalid_idempotency_key',
      { headers: { 'idempotency-key': 'k'.repeat(300) } },
    ],
    [
      'capture more than authorized',
      'POST',
      () => `${pay}/${manualPaymentId()}/capture`,
      { amount: 1001 },
      422,
      'invalid_amount',
    ],
    [
      'capture zero',
      'POST',
      () => `${pay}/${manualPaymentId()}/capture`,
      { amount: 0 },
      400,
      'validation_error',
    ],
    [
      'capture an unknown payment',
      'POST',
      () => `${pay}/pay_doesnotexist/capture`,
      {},
      404,
      'payment_not_found',
    ],
    ['read an unknown payment', 'GET', () => `${pay}/pay_doesnotexist`, undefined, 404, 'payment_not_found'],
    ['list with an unknown status', 'GET', () => `${pay}?status=bogus`, undefined, 400, 'validation_error'],
    ['list with a huge limit', 'GET', () => `${pay}?limit=1000`, undefined, 400, 'validation_error'],
    ['list with a forged cursor', 'GET', () => `${pay}?cursor=bm9wZQ`, undefined, 400, 'invalid_cursor'],
    [
      'top-up with a negative amount',
      'POST',
      () => `/v1/wallets/${customerId}/top-ups`,
      { amount: -5, currency: 'USD', token: 'tok_test_4242' },
      400,
      'validation_error',
    ],
    [
      'top-up without a token',
      'POST',
      () => `/v1/wallets/${customerId}/top-ups`,
      { amount: 5, currency: 'USD' },
      400,
      'validation_error',
    ],
    [
      'wallet of an invalid customer id',
      'GET',
      () => '/v1/wallets/bad%20id',
      undefined,
      400,
      'validation_error',
    ],
    // Text PostgreSQL cannot store is refused at the door, never handed to a workflow.
    [
      'NUL in a metadata value',
      'POST',
      () => pay,
      { ...valid(), metadata: { note: 'a\u0000b' } },
      400,
      'validation_error',
    ],
    [
      'NUL in a metadata key',
      'POST',
      () => pay,
      { ...valid(), metadata: { 'a\u0000': 'b' } },
      400,
      'validation_error',
    ],
    [
      'NUL in the description',
      'POST',
      () => pay,
      { ...valid(), description: 'x\u0000' },
      400,
      'validation_error',
    ],
    [
      'lone surrogate in the description',
      'POST',
      () => pay,
      { ...valid(), description: 'x\ud800y' },
      400,
      'validation_error',
    ],
    [
      'lone surrogate in metadata',
      'POST',
      () => pay,
      { ...valid(), metadata: { note: '\udc00' } },
      400,
      'validation_error',
    ],
    [
      'NUL in a refund reason',
      'POST',
      () => `${pay}/${manualPaymentId()}/refunds`,
      { reason: 'a\u0000b' },
      400,
      'validation_error',
    ],
    // Malformed ids and cursors are answered, never a 500.
    [
      'list with a cursor past the year 9999',
      'GET',
      () =>
        `${pay}?cursor=${Buffer.from(JSON.stringify(['+275760-09-13T00:00:00.000Z', 'pay_1'])).toString('base64url')}`,
      undefined,
      400,
      'invalid_cursor',
    ],
    ['read a payment id with NUL', 'GET', () => `${pay}/pay_%00`, undefined, 400, 'validation_error'],
    ['capture a payment id with NUL', 'POST', () => `${pay}/pay_%00/capture`, {}, 400, 'validation_error'],
    ['cancel a payment id with NUL', 'POST', () => `${pay}/pay_%00/cancel`, {}, 400, 'validation_error'],
    ['refund a payment id with NUL', 'POST', () => `${pay}/pay_%00/refunds`, {}, 400, 'validation_error'],
    ['read a refund id with NUL', 'GET', () => '/v1/refunds/re_%00', undefined, 400, 'validation_error'],
    [
      'list with a numeric cursor',
      'GET',
      () => `${pay}?cursor=99999999999999999999`,
      undefined,
      400,
      'invalid_cursor',
    ],
    ['ledger verify without admin key', 'GET', () => '/v1/ledger/verify', undefined, 403, 'forbidden'],
    ['unknown route', 'GET', () => '/v1/nothing-here', undefined, 404, 'route_not_found'],
  ];
}

/** Problems the API gives before any service runs: validation, parsing, auth, routing. */
export const DOOR_CODES = new Set([
  'validation_error',
  'invalid_json',
  'unsupported_media_type',
  'body_too_large',
  'unauthorized',
  'forbidden',
  'route_not_found',
  'method_not_allowed',
  'invalid_url',
  'invalid_idempotency_key',
]);
