/**
 * The page the customer's browser lands on after 3-D Secure when the merchant gave no `returnUrl`:
 * a server-rendered string, no script. It says what happened to the payment and nothing else
 * (no amount, card or customer): whoever holds the link sees it.
 */
import { assertNever } from '../../domain/assert-never.js';
import type { FailureCode, PaymentStatus } from '../../domain/payment.js';
import { html } from './html.js';
import { layout } from './layout.js';

export interface PageText {
  title: string;
  paragraphs: string[];
}

/** The page, in the hosted pages' layout and style, without their script. */
export function returnPage({ title, paragraphs }: PageText): string {
  return layout({
    title: `${title} · Paysaga`,
    script: false,
    body: html`<h1>${title}</h1>
      ${paragraphs.map((paragraph) => html`<p>${paragraph}</p>`)}`,
  });
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
    case 'requires_payment_method':
      return {
        title: 'Payment not completed',
        paragraphs: [
          failureText(failureCode),
          'No payment was taken. Return to the shop to try again, with this card or another.',
        ],
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
    case 'authentication_required':
      return 'Your bank asks you to confirm this payment.';
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
