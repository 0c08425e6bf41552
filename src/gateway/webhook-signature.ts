import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Stripe-style webhook signatures: `Paysaga-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
 * `"<t>.<raw body>"`. The timestamp is signed too, so a captured request cannot be replayed after the
 * tolerance window. Verification must run on the raw bytes, before any JSON parsing.
 */
export const SIGNATURE_HEADER = 'Paysaga-Signature';
export const DEFAULT_TOLERANCE_SEC = 300;

export type WebhookSignatureFailure =
  'missing_header' | 'malformed_header' | 'timestamp_out_of_tolerance' | 'signature_mismatch';

export class WebhookSignatureError extends Error {
  override readonly name = 'WebhookSignatureError';
  constructor(
    readonly reason: WebhookSignatureFailure,
    message: string,
  ) {
    super(message);
  }
}

function hmacHex(secret: string, timestampSec: number, rawBody: string | Buffer): string {
  // Feed the body as bytes: re-encoding a parsed string could change them and break the signature.
  return createHmac('sha256', secret).update(`${timestampSec}.`).update(rawBody).digest('hex');
}

/** Returns the header value for a body sent at `timestampSec`. */
export function signWebhook(secret: string, rawBody: string | Buffer, timestampSec: number): string {
  if (!Number.isSafeInteger(timestampSec) || timestampSec < 0) {
    throw new RangeError('timestampSec must be a non-negative integer');
  }
  return `t=${timestampSec},v1=${hmacHex(secret, timestampSec, rawBody)}`;
}

interface ParsedHeader {
  timestampSec: number;
  signatures: Buffer[];
}

function parseHeader(header: string): ParsedHeader | undefined {
  let timestampSec: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (!/^\d{1,12}$/.test(value) || timestampSec !== undefined) return undefined;
      timestampSec = Number(value);
    } else if (key === 'v1') {
      if (!/^[0-9a-f]{64}$/i.test(value)) return undefined;
      signatures.push(Buffer.from(value, 'hex'));
    }
    // Other schemes (v0, future versions) are ignored, as Stripe does.
  }
  if (timestampSec === undefined || signatures.length === 0) return undefined;
  return { timestampSec, signatures };
}

/**
 * Throws `WebhookSignatureError` unless `header` carries a valid signature of `rawBody` made with
 * `secret` (or one of `secrets`, during a rotation) within `toleranceSec` of `nowSec`. Several `v1`
 * entries are allowed (the sender's side of a rotation). Returns the signed timestamp.
 */
export function verifyWebhookSignature(
  secret: string | readonly string[],
  rawBody: Buffer,
  header: string | undefined,
  nowSec: number,
  toleranceSec = DEFAULT_TOLERANCE_SEC,
): { timestampSec: number } {
  if (header === undefined || header.trim() === '') {
    throw new WebhookSignatureError('missing_header', `Missing ${SIGNATURE_HEADER} header`);
  }
  const parsed = parseHeader(header);
  if (!parsed) {
    throw new WebhookSignatureError('malformed_header', `Malformed ${SIGNATURE_HEADER} header`);
  }
  if (Math.abs(nowSec - parsed.timestampSec) > toleranceSec) {
    throw new WebhookSignatureError('timestamp_out_of_tolerance', 'Webhook timestamp outside the tolerance');
  }
  const expected = [secret]
    .flat()
    .map((one) => Buffer.from(hmacHex(one, parsed.timestampSec, rawBody), 'hex'));
  // Every pair is compared, so timing does not reveal which one (if any) matched.
  let matched = false;
  for (const candidate of parsed.signatures) {
    for (const wanted of expected) if (timingSafeEqual(candidate, wanted)) matched = true;
  }
  if (!matched) {
    throw new WebhookSignatureError('signature_mismatch', 'Webhook signature does not match');
  }
  return { timestampSec: parsed.timestampSec };
}
