import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  signWebhook,
  verifyWebhookSignature,
  WebhookSignatureError,
} from '../../src/gateway/webhook-signature.js';
import type { WebhookSignatureFailure } from '../../src/gateway/webhook-signature.js';

const secret = 'whsec_test_secret';
const body = Buffer.from(
  JSON.stringify({ id: 'evt_1', type: 'authorization.updated', data: { amount: 2500 } }),
);
const now = 1_760_000_000;

function failureOf(run: () => unknown): WebhookSignatureFailure {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookSignatureError);
    return (error as WebhookSignatureError).reason;
  }
  throw new Error('expected verification to fail');
}

describe('webhook signatures', () => {
  it('produces t=<seconds>,v1=<hex HMAC-SHA256 of "t.body">', () => {
    const expected = createHmac('sha256', secret).update(`${now}.${body.toString()}`).digest('hex');
    expect(signWebhook(secret, body, now)).toBe(`t=${now},v1=${expected}`);
    expect(signWebhook(secret, body.toString(), now)).toBe(signWebhook(secret, body, now));
  });

  it('accepts a valid signature within the tolerance', () => {
    const header = signWebhook(secret, body, now);
    expect(verifyWebhookSignature(secret, body, header, now)).toEqual({ timestampSec: now });
    expect(verifyWebhookSignature(secret, body, header, now + 299)).toEqual({ timestampSec: now });
  });

  it('accepts a header where any v1 matches (secret rotation) and ignores unknown schemes', () => {
    const good = signWebhook(secret, body, now).split(',')[1];
    const other = signWebhook('whsec_old', body, now).split(',')[1];
    expect(() => verifyWebhookSignature(secret, body, `t=${now},${other},v0=abc,${good}`, now)).not.toThrow();
  });

  it("verifies against any of the receiver's secrets (its side of a rotation), and only those", () => {
    const header = signWebhook('whsec_previous', body, now);
    expect(verifyWebhookSignature(['whsec_current', 'whsec_previous'], body, header, now)).toEqual({
      timestampSec: now,
    });
    expect(failureOf(() => verifyWebhookSignature(['whsec_current', 'whsec_next'], body, header, now))).toBe(
      'signature_mismatch',
    );
  });

  it('rejects a tampered body', () => {
    const header = signWebhook(secret, body, now);
    const tampered = Buffer.from(body.toString().replace('2500', '2501'));
    expect(failureOf(() => verifyWebhookSignature(secret, tampered, header, now))).toBe('signature_mismatch');
  });

  it('rejects a signature made with another secret', () => {
    const header = signWebhook('whsec_someone_else', body, now);
    expect(failureOf(() => verifyWebhookSignature(secret, body, header, now))).toBe('signature_mismatch');
  });

  it('rejects a re-used signature with a forged timestamp', () => {
    const v1 = signWebhook(secret, body, now).split(',')[1];
    const header = `t=${now + 10},${v1}`;
    expect(failureOf(() => verifyWebhookSignature(secret, body, header, now + 10))).toBe(
      'signature_mismatch',
    );
  });

  it('rejects timestamps older or further in the future than 5 minutes', () => {
    const header = signWebhook(secret, body, now);
    expect(failureOf(() => verifyWebhookSignature(secret, body, header, now + 301))).toBe(
      'timestamp_out_of_tolerance',
    );
    expect(failureOf(() => verifyWebhookSignature(secret, body, header, now - 301))).toBe(
      'timestamp_out_of_tolerance',
    );
    expect(() => verifyWebhookSignature(secret, body, header, now + 600, 900)).not.toThrow();
  });

  it('rejects a missing header', () => {
    expect(failureOf(() => verifyWebhookSignature(secret, body, undefined, now))).toBe('missing_header');
    expect(failureOf(() => verifyWebhookSignature(secret, body, '  ', now))).toBe('missing_header');
  });

  it.each([
    ['garbage', 'not-a-signature'],
    ['no timestamp', `v1=${'a'.repeat(64)}`],
    ['no v1', `t=${now}`],
    ['non-numeric timestamp', `t=abc,v1=${'a'.repeat(64)}`],
    ['short signature', `t=${now},v1=abcd`],
    ['non-hex signature', `t=${now},v1=${'z'.repeat(64)}`],
    ['two timestamps', `t=${now},t=${now},v1=${'a'.repeat(64)}`],
  ])('rejects a malformed header (%s)', (_name, header) => {
    expect(failureOf(() => verifyWebhookSignature(secret, body, header, now))).toBe('malformed_header');
  });
});
