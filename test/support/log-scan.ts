import {
  DEV_ADMIN_KEY,
  DEV_API_KEY,
  DEV_CUSTOMER_TOKEN_SECRET,
  DEV_WEBHOOK_ENCRYPTION_KEY,
  DEV_WEBHOOK_SECRET,
} from '../../src/config.js';
import { DEV_COMMAND_SECRET } from '../../tools/stack/stack.js';
import {
  OTHER_COMMAND_SECRET,
  PAYPALCO_PAYPAL,
  ROUTED_STRIPE,
  STRIPECO_STRIPE,
  TENANT_KEYS,
} from './tenants.js';

/** What must never be in a log line: the test stack's keys and secrets, card tokens, customer tokens. */
const LITERALS = [
  DEV_API_KEY,
  DEV_ADMIN_KEY,
  DEV_WEBHOOK_SECRET,
  DEV_CUSTOMER_TOKEN_SECRET,
  DEV_WEBHOOK_ENCRYPTION_KEY,
  DEV_COMMAND_SECRET,
  OTHER_COMMAND_SECRET,
  ...Object.values(TENANT_KEYS),
  STRIPECO_STRIPE.apiKey,
  STRIPECO_STRIPE.webhookSecret,
  ROUTED_STRIPE.apiKey,
  ROUTED_STRIPE.webhookSecret,
  PAYPALCO_PAYPAL.clientSecret,
];
const PATTERNS: [string, RegExp][] = [
  ['a sandbox test card token', /\btok_test_\d+/],
  ['a Stripe test PaymentMethod', /\bpm_card_\w+/],
  ["a merchant endpoint's webhook secret", /\bwhsec_[A-Za-z0-9]{16,}/],
  ['a customer token (JWT)', /\beyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/],
  ['an API key the admin API made', /\b[spr]k_(?:live|test)_[A-Za-z0-9]{32}\b/],
];

/** Each line of `log` that carries a secret, with what it carries (none is the only right answer). */
export function secretsIn(log: string): { line: number; what: string }[] {
  const found: { line: number; what: string }[] = [];
  log.split('\n').forEach((text, index) => {
    for (const literal of LITERALS)
      if (text.includes(literal)) found.push({ line: index + 1, what: 'a key or secret of the test stack' });
    for (const [what, pattern] of PATTERNS) if (pattern.test(text)) found.push({ line: index + 1, what });
  });
  return found;
}
