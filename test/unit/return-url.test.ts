/**
 * The customer's way back after 3-D Secure: which merchant return URLs are allowed, the outcome
 * added to them, the signed return links, and the page shown when the merchant gave none.
 */
import { describe, expect, it } from 'vitest';
import { ReturnLinks } from '../../src/app/return-links.js';
import { redactUrl } from '../../src/logger.js';
import { createPaymentBody } from '../../src/app/schemas.js';
import { PAYMENT_STATUSES } from '../../src/domain/payment.js';
import {
  MAX_RETURN_URL_LENGTH,
  returnUrlRefusal,
  returnUrlWithOutcome,
} from '../../src/domain/return-url.js';
import { NOT_FOUND_PAGE, returnPage, returnPageText } from '../../src/api/pages/return-page.js';

const DEV = { allowHttpLoopback: true };
const PRODUCTION = { allowHttpLoopback: false };

describe('return URL policy', () => {
  it.each([
    'https://shop.example/return',
    'https://shop.example:8443/orders/42/done?lang=en#top',
    `https://shop.example/${'a'.repeat(MAX_RETURN_URL_LENGTH - 'https://shop.example/'.length)}`,
  ])('allows https: %s', (url) => {
    expect(returnUrlRefusal(url, PRODUCTION)).toBeUndefined();
    expect(returnUrlRefusal(url, DEV)).toBeUndefined();
  });

  it.each(['http://127.0.0.1:3000/return', 'http://localhost/return', 'http://[::1]:8080/'])(
    'allows http on a loopback host only when the flag is on: %s',
    (url) => {
      expect(returnUrlRefusal(url, DEV)).toBeUndefined();
      expect(returnUrlRefusal(url, PRODUCTION)).toMatch(/https/);
    },
  );

  it.each([
    ['http://example.com/return', /https/],
    ['http://127.0.0.1.example.com/', /https/],
    ['http://10.0.0.1/', /https/],
    ['https://user:pass@shop.example/', /user name or password/],
    ['https://user@shop.example/', /user name or password/],
    ['http://user:pass@localhost/', /user name or password/],
    ['javascript:alert(1)', /https/],
    ['data:text/html,<script>alert(1)</script>', /https/],
    ['ftp://shop.example/', /https/],
    ['/relative/path', /absolute/],
    [`https://shop.example/${'a'.repeat(MAX_RETURN_URL_LENGTH)}`, /at most 2048/],
  ])('refuses %s', (url, reason) => {
    expect(returnUrlRefusal(url, DEV)).toMatch(reason);
  });

  it('is parsed by the request schema (400 when no URL or too long), judged by the policy', () => {
    const body = {
      orderId: 'o1',
      customerId: 'c1',
      amount: 100,
      currency: 'USD',
      method: { type: 'card', token: 'tok_test_4242' },
    };
    expect(createPaymentBody.safeParse({ ...body, returnUrl: 'not a url' }).success).toBe(false);
    const tooLong = `https://shop.example/${'a'.repeat(MAX_RETURN_URL_LENGTH)}`;
    expect(createPaymentBody.safeParse({ ...body, returnUrl: tooLong }).success).toBe(false);
    // Well formed but refused by the policy: the application answers 422, not the schema.
    expect(createPaymentBody.safeParse({ ...body, returnUrl: 'http://example.com/' }).success).toBe(true);
  });

  it("adds payment_id and status to the merchant's query and keeps its own parameters", () => {
    const url = new URL(
      returnUrlWithOutcome('https://shop.example/done?order=42&status=mine#frag', 'pay_abc', 'succeeded'),
    );
    expect(url.origin + url.pathname).toBe('https://shop.example/done');
    expect(url.searchParams.get('order')).toBe('42');
    expect(url.searchParams.get('payment_id')).toBe('pay_abc');
    expect(url.searchParams.getAll('status')).toEqual(['succeeded']);
    expect(url.hash).toBe('#frag');
  });
});

describe('return links', () => {
  const links = new ReturnLinks('https://pay.example', 's'.repeat(32));

  it('signs the payment id: the link verifies for its payment only', () => {
    const link = new URL(links.linkFor('pay_123'));
    expect(link.origin + link.pathname).toBe('https://pay.example/pay/return/pay_123');
    const sig = link.searchParams.get('sig') ?? '';
    expect(sig).toMatch(/^[\w-]{43}$/);
    expect(links.verify('pay_123', sig)).toBe(true);
    expect(links.verify('pay_124', sig)).toBe(false);
    expect(links.verify('pay_123', `${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`)).toBe(false);
    expect(links.verify('pay_123', '')).toBe(false);
    expect(links.verify('pay_123', undefined)).toBe(false);
  });

  it('keeps the signature out of request logs', () => {
    expect(redactUrl('/pay/return/pay_1?sig=abc-_1&authorization=auth_1')).toBe(
      '/pay/return/pay_1?sig=[redacted]&authorization=auth_1',
    );
  });

  it('another secret makes other links', () => {
    const other = new ReturnLinks('https://pay.example', 't'.repeat(32));
    const sig = new URL(other.linkFor('pay_123')).searchParams.get('sig') ?? '';
    expect(links.verify('pay_123', sig)).toBe(false);
  });
});

describe('return page', () => {
  it('has wording for every status and names no amount, card or customer', () => {
    for (const status of PAYMENT_STATUSES) {
      const text = returnPageText(status);
      expect(text.title.length).toBeGreaterThan(0);
      expect(returnPage(text)).not.toMatch(/\d{3,}|card ending|customer/i);
    }
    expect(returnPageText('succeeded').title).toBe('Payment succeeded');
    expect(returnPageText('failed', 'authentication_failed').title).toBe('Payment failed');
    expect(returnPageText('requires_action').title).toBe('Payment processing');
    expect(returnPageText('canceled').title).toBe('Payment canceled');
  });

  it('is an accessible document without a script', () => {
    const html = returnPage(NOT_FOUND_PAGE);
    expect(html).toMatch(/^<!doctype html>\s*<html lang="en">/);
    expect(html).toContain('<title>Page not found · Paysaga</title>');
    expect(html).toMatch(/<main>\s*<h1>Page not found<\/h1>/);
    expect(html).not.toMatch(/<script/i);
  });

  it('escapes all text', () => {
    const html = returnPage({ title: '<b>', paragraphs: ['"x" & <script>'] });
    expect(html).toContain('<h1>&lt;b&gt;</h1>');
    expect(html).not.toContain('<script>');
  });
});
