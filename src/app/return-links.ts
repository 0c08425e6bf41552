import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The page the gateway sends the customer's browser back to after 3-D Secure:
 * `{publicUrl}/pay/return/{paymentId}?sig=...`. The browser has no API key, so the link carries
 * its own capability: an HMAC-SHA256 of the payment id (base64url) under `RETURN_URL_SECRET`. Only
 * Paysaga can make one, and one link opens one payment's page whatever tenant it belongs to.
 */
export class ReturnLinks {
  constructor(
    private readonly publicUrl: string,
    private readonly secret: string,
  ) {}

  linkFor(paymentId: string): string {
    return `${this.publicUrl}/pay/return/${encodeURIComponent(paymentId)}?sig=${this.signatureOf(paymentId)}`;
  }

  /** In constant time, so a guessed signature learns nothing from how long the refusal took. */
  verify(paymentId: string, signature: string | undefined): boolean {
    if (signature === undefined) return false;
    const expected = Buffer.from(this.signatureOf(paymentId));
    const given = Buffer.from(signature);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private signatureOf(paymentId: string): string {
    return createHmac('sha256', this.secret).update(paymentId).digest('base64url');
  }
}
