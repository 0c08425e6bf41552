import type { CheckoutPage } from '../../app/checkout-sessions.js';
import type { CheckoutSessionView } from '../../domain/checkout.js';
import { successRedirect } from '../../domain/checkout.js';
import { formatMinor } from '../../domain/money.js';
import type { FailureCode } from '../../domain/payment.js';
import { html } from './html.js';
import { layout } from './layout.js';

/** What the customer reads for each decline: what happened and what they can do. */
const DECLINE_REASONS: Record<FailureCode, string> = {
  card_declined: 'Your card was declined. Try another card.',
  insufficient_funds: 'Your card has insufficient funds. Try another card.',
  expired_card: 'Your card has expired. Try another card.',
  invalid_card: 'The card details are not valid. Check them or try another card.',
  fraud_suspected: 'Your card was declined. Try another card.',
  authentication_failed: 'The card could not be verified (3-D Secure failed). Try again or use another card.',
  authentication_required: 'Your bank asks you to confirm this payment. Pay again to verify it.',
  expired: 'The verification took too long. Try again.',
  processing_error: 'The payment could not be processed. Try again in a moment.',
};

export function declineReason(code: FailureCode | undefined, fallback?: string): string {
  return (code && DECLINE_REASONS[code]) ?? fallback ?? 'The payment did not go through. Try another card.';
}

function summary(session: CheckoutSessionView) {
  return html`<section class="summary" aria-labelledby="summary-title">
    <h1 id="summary-title">Checkout</h1>
    ${session.description ? html`<p class="description">${session.description}</p>` : ''}
    <p class="amount">${formatMinor(session.amount, session.currency)}</p>
  </section>`;
}

/** The page with the payment forms; `error` is shown (and announced) above them. */
export function checkoutPage(
  page: CheckoutPage,
  options: { gatewayUrl: string; error?: string | undefined },
): string {
  const { session, walletCovers } = page;
  const amount = formatMinor(session.amount, session.currency);
  const action = `/checkout/${session.id}/pay`;
  const card = session.allowedMethods.includes('card')
    ? html`<form
        id="card-form"
        method="post"
        action="${action}"
        data-gateway="${options.gatewayUrl}"
        aria-labelledby="card-title"
        novalidate
      >
        <h2 id="card-title">Pay by card</h2>
        <input type="hidden" name="method" value="card" />
        <input type="hidden" name="token" value="" />
        <label for="card-number">Card number</label>
        <input
          id="card-number"
          type="text"
          inputmode="numeric"
          autocomplete="cc-number"
          required
          maxlength="23"
          aria-describedby="checkout-error"
        />
        <div class="row">
          <div>
            <label for="card-expiry">Expiry (MM / YY)</label>
            <input
              id="card-expiry"
              type="text"
              inputmode="numeric"
              autocomplete="cc-exp"
              placeholder="MM / YY"
              required
              maxlength="7"
            />
          </div>
          <div>
            <label for="card-cvc">Security code (CVC)</label>
            <input
              id="card-cvc"
              type="text"
              inputmode="numeric"
              autocomplete="cc-csc"
              required
              maxlength="4"
            />
          </div>
        </div>
        <button type="submit" disabled>Pay ${amount}</button>
      </form>`
    : '';
  /** A method the customer picks with one button: no fields to fill in. */
  const oneButton = (method: string, title: string, button: string) =>
    html`<form method="post" action="${action}" aria-labelledby="${method}-title">
      <h2 id="${method}-title">${title}</h2>
      <input type="hidden" name="method" value="${method}" />
      <button type="submit" class="secondary">${button}</button>
    </form>`;
  const wallet = walletCovers ? oneButton('wallet', 'Pay from wallet', 'Pay from wallet') : '';
  // The buyer approves on PayPal's page, then comes back to this session's return route.
  const paypal = session.allowedMethods.includes('paypal')
    ? oneButton('paypal', 'Pay with PayPal', 'Continue to PayPal')
    : '';
  return layout({
    title: `Pay ${amount}`,
    body: html`${summary(session)}
      <p id="checkout-error" class="error" role="alert">${options.error ?? ''}</p>
      ${wallet} ${paypal} ${card}
      <a class="cancel" href="${session.cancelUrl}">Cancel and return to the merchant</a>`,
  });
}

/** A session that takes no payment any more. */
export function endedPage(session: CheckoutSessionView): string {
  const complete = session.status === 'complete';
  return layout({
    title: complete ? 'Payment complete' : 'Checkout expired',
    body: html`${summary(session)}
      <section class="notice" aria-labelledby="notice-title">
        <h2 id="notice-title">${complete ? 'This checkout is paid' : 'This checkout has expired'}</h2>
        <p>
          ${complete ? 'Your payment went through.' : 'It no longer takes payments. Ask the merchant for a new link.'}
        </p>
        <a
          class="link-button"
          href="${complete ? successRedirect(session.successUrl, session.id) : session.cancelUrl}"
          >Return to the merchant</a
        >
      </section>`,
  });
}

/** The payment is still being processed or still waits for 3-D Secure. */
export function pendingPage(session: CheckoutSessionView, actionUrl?: string): string {
  return layout({
    title: 'Payment in progress',
    body: html`${summary(session)}
      <section class="notice" aria-labelledby="notice-title">
        <h2 id="notice-title">Your payment is in progress</h2>
        ${
          actionUrl
            ? html`<p>Your bank still needs you to confirm the payment.</p>
                <a class="link-button" href="${actionUrl}">Confirm with your bank</a>`
            : html`<p>This takes a moment. Reload the page to see the result.</p>
                <a class="link-button" href="/checkout/${session.id}">Reload</a>`
        }
      </section>`,
  });
}

export function notFoundPage(): string {
  return layout({
    title: 'Checkout not found',
    body: html`<h1>Checkout not found</h1>
      <p>This payment link is not valid. Check the link or ask the merchant for a new one.</p>`,
  });
}
