import type { PaymentLinkView } from '../../domain/payment-link.js';
import { formatMinor } from '../../domain/money.js';
import { html } from './html.js';
import { layout } from './layout.js';

function summary(link: PaymentLinkView) {
  return html`<section class="summary" aria-labelledby="summary-title">
    <h1 id="summary-title">Checkout</h1>
    ${link.description ? html`<p class="description">${link.description}</p>` : ''}
    <p class="amount">${formatMinor(link.amount, link.currency)}</p>
  </section>`;
}

/** A deactivated link: it takes no more payments. */
export function inactiveLinkPage(link: PaymentLinkView): string {
  return layout({
    title: 'Link no longer active',
    script: false,
    body: html`${summary(link)}
      <section class="notice" aria-labelledby="notice-title">
        <h2 id="notice-title">This payment link is no longer active</h2>
        <p>It no longer takes payments. Ask the merchant for a new link.</p>
        <a class="link-button" href="${link.cancelUrl}">Return to the merchant</a>
      </section>`,
  });
}

/** The link opened as many checkouts as it may this minute. */
export function busyLinkPage(link: PaymentLinkView, retryAfterSeconds: number): string {
  return layout({
    title: 'Too many checkouts',
    script: false,
    body: html`${summary(link)}
      <section class="notice" aria-labelledby="notice-title">
        <h2 id="notice-title">Too many people are paying through this link right now</h2>
        <p role="alert">Try again in ${String(retryAfterSeconds)} seconds.</p>
      </section>`,
  });
}

export function linkNotFoundPage(): string {
  return layout({
    title: 'Payment link not found',
    script: false,
    body: html`<h1>Payment link not found</h1>
      <p>This payment link is not valid. Check the link or ask the merchant for a new one.</p>`,
  });
}
