/**
 * The page the customer's browser lands on after 3-D Secure when the merchant gave no `returnUrl`:
 * a server-rendered string, no script. It says what happened to the payment and nothing else
 * (no amount, card or customer): whoever holds the link sees it.
 */
import { createHash } from 'node:crypto';
import { assertNever } from '../../domain/assert-never.js';
import type { FailureCode, PaymentStatus } from '../../domain/payment.js';

/** The page's only style, allowed by its hash: the policy below allows nothing else. */
const STYLE =
  'body{font-family:system-ui,sans-serif;margin:0;padding:2rem 1rem;color:#1a1a1a;background:#f6f7f9}' +
  'main{max-width:32rem;margin:0 auto;padding:2rem;background:#fff;border-radius:8px;border:1px solid #d8dce1}' +
  'h1{font-size:1.5rem;margin:0 0 1rem}p{line-height:1.5;margin:0 0 .75rem}';

/** Sent with every page of this module: no script, no frames, no forms, no other origin. */
export const RETURN_PAGE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export interface PageText {
  title: string;
  paragraphs: string[];
}

/** Every character HTML gives a meaning to, in text and in quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function renderPage({ title, paragraphs }: PageText): string {
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="robots" content="noindex">',
    `<title>${escapeHtml(title)} · Paysaga</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    '<main>',
    `<h1>${escapeHtml(title)}</h1>`,
    ...paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`),
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

const CLOSE = 'You can close this page and return to the shop.';

/** What the customer reads for a payment in `status`; a failure is described only by its kind. */
export function returnPageText(status: PaymentStatus, failureCode?: FailureCode): PageText {
  switch (status) {
    case 'succeeded':
    case 'partially_refunded':
    case 'refunded':
      return { title: 'Payment succeeded', paragraphs: ['Your payment went through.', CLOSE] };
    case 'requires_capture':
      return {
        title: 'Payment authorized',
        paragraphs: ['Your card was authorized. The shop completes the payment.', CLOSE],
      };
    case 'failed':
      return {
        title: 'Payment failed',
        paragraphs: [failureText(failureCode), 'No payment was taken. Return to the shop to try again.'],
      };
    case 'canceled':
      return { title: 'Payment canceled', paragraphs: ['This payment was canceled.', CLOSE] };
    case 'processing':
    case 'requires_action':
    case 'requires_attention':
      return {
        title: 'Payment processing',
        paragraphs: [
          'We are still confirming your payment. The shop will let you know once it is complete.',
          CLOSE,
        ],
      };
    default:
      return assertNever(status, 'payment status');
  }
}

function failureText(code: FailureCode | undefined): string {
  switch (code) {
    case 'authentication_failed':
      return 'The card could not be verified.';
    case 'card_declined':
    case 'insufficient_funds':
    case 'fraud_suspected':
      return 'The card was declined.';
    case 'expired_card':
    case 'invalid_card':
      return 'The card cannot be used for this payment.';
    case 'expired':
      return 'The payment was not completed in time.';
    case 'processing_error':
    case undefined:
      return 'The payment could not be completed.';
    default:
      return assertNever(code, 'failure code');
  }
}

export const NOT_FOUND_PAGE: PageText = {
  title: 'Page not found',
  paragraphs: ['This link is not valid. Return to the shop to check your payment.'],
};
