import { formatMinor } from '../src/domain/money.js';
import type { Currency } from '../src/domain/money.js';

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

/** The "bank" page a customer is redirected to; its buttons post the outcome back to the sandbox. */
export function renderChallengePage(challenge: {
  id: string;
  status: string;
  reference: string;
  last4: string;
  /** Absent when a card is being saved: nothing is charged. */
  amount?: { amount: number; currency: Currency } | undefined;
}): string {
  const id = escapeHtml(challenge.id);
  const pending = challenge.status === 'requires_action';
  const what = challenge.amount
    ? `Authorize ${escapeHtml(formatMinor(challenge.amount.amount, challenge.amount.currency))} for`
    : 'Save the card for future payments of';
  const button = (outcome: 'succeed' | 'fail', label: string): string =>
    `<form method="post" action="/3ds/${id}/complete"><input type="hidden" name="outcome" value="${outcome}">` +
    `<button type="submit">${label}</button></form>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,"><title>Sandbox 3-D Secure</title></head>
<body>
<h1>Sandbox 3-D Secure</h1>
<p>${what} ${escapeHtml(challenge.reference)} with card ending ${escapeHtml(challenge.last4)}?</p>
${pending ? button('succeed', 'Complete authentication') + button('fail', 'Fail authentication') : `<p>This challenge is no longer pending (status: ${escapeHtml(challenge.status)}).</p>`}
</body></html>`;
}
