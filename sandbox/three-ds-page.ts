import { formatMinor } from '../src/domain/money.js';
import type { WireAuthorization } from './wire.js';

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

/** The "bank" page a customer is redirected to; its buttons post the outcome back to the sandbox. */
export function renderChallengePage(authorization: WireAuthorization): string {
  const id = escapeHtml(authorization.id);
  const amount = escapeHtml(formatMinor(authorization.amount, authorization.currency));
  const pending = authorization.status === 'requires_action';
  const button = (outcome: 'succeed' | 'fail', label: string): string =>
    `<form method="post" action="/3ds/${id}/complete"><input type="hidden" name="outcome" value="${outcome}">` +
    `<button type="submit">${label}</button></form>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,"><title>Sandbox 3-D Secure</title></head>
<body>
<h1>Sandbox 3-D Secure</h1>
<p>Authorize ${amount} for ${escapeHtml(authorization.reference)} with card ending ${escapeHtml(authorization.card.last4)}?</p>
${pending ? button('succeed', 'Complete authentication') + button('fail', 'Fail authentication') : `<p>This challenge is no longer pending (status: ${escapeHtml(authorization.status)}).</p>`}
</body></html>`;
}
