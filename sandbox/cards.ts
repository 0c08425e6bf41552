import type { DeclineCode } from './wire.js';

/**
 * The sandbox's test cards. A card behaves according to its last four digits, so any number (or
 * `tok_test_<last4>` token) ending like a test card gets that card's outcome; every other
 * Luhn-valid number succeeds.
 */
export type CardBehavior =
  { kind: 'succeed' } | { kind: 'decline'; code: DeclineCode; message: string } | { kind: 'three_ds' };

export interface TestCard {
  last4: string;
  /** A full number that tokenizes to this card. */
  number: string;
  brand: string;
  behavior: CardBehavior;
  description: string;
}

const decline = (code: DeclineCode, message: string): CardBehavior => ({
  kind: 'decline',
  code,
  message,
});

export const TEST_CARDS: readonly TestCard[] = [
  {
    last4: '4242',
    number: '4242424242424242',
    brand: 'visa',
    behavior: { kind: 'succeed' },
    description: 'Succeeds',
  },
  {
    last4: '0000',
    number: '4000000000000000',
    brand: 'visa',
    behavior: decline('card_declined', 'Your card was declined.'),
    description: 'Declined (card_declined)',
  },
  {
    last4: '1111',
    number: '4000000000001111',
    brand: 'visa',
    behavior: decline('insufficient_funds', 'Your card has insufficient funds.'),
    description: 'Declined (insufficient_funds)',
  },
  {
    last4: '2222',
    number: '4000000000002222',
    brand: 'visa',
    behavior: decline('expired_card', 'Your card has expired.'),
    description: 'Declined at authorization (expired_card); tokenizes fine',
  },
  {
    last4: '3333',
    number: '4000000000003333',
    brand: 'visa',
    behavior: { kind: 'three_ds' },
    description: 'Requires 3-D Secure',
  },
  {
    last4: '9995',
    number: '4000000000009995',
    brand: 'visa',
    behavior: decline('fraud_suspected', 'The payment was blocked as suspected fraud.'),
    description: 'Declined (fraud_suspected)',
  },
  {
    last4: '0069',
    number: '4000000000000069',
    brand: 'visa',
    behavior: decline('invalid_card', 'The card number is not valid for this payment.'),
    description: 'Declined (invalid_card)',
  },
  {
    last4: '0119',
    number: '4000000000000119',
    brand: 'visa',
    behavior: decline('processing_error', 'An error occurred while processing the card.'),
    description:
      "Declined (processing_error): the gateway's own failure, which routing may move to another connector",
  },
];

export const TEST_TOKEN_PREFIX = 'tok_test_';

/** Expiry reported for `tok_test_*` tokens: fixed so responses are reproducible. */
export const TEST_TOKEN_EXPIRY = { expMonth: 12, expYear: 2034 } as const;

export function testCardByLast4(last4: string): TestCard | undefined {
  return TEST_CARDS.find((card) => card.last4 === last4);
}

export function testToken(last4: string): string {
  return `${TEST_TOKEN_PREFIX}${last4}`;
}

export function behaviorForLast4(last4: string): CardBehavior {
  return testCardByLast4(last4)?.behavior ?? { kind: 'succeed' };
}

export function luhnValid(number: string): boolean {
  if (!/^\d+$/.test(number)) return false;
  let sum = 0;
  for (let i = 0; i < number.length; i += 1) {
    let digit = Number(number[number.length - 1 - i]);
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/**
 * Luhn-valid 12–19 digit numbers, plus the documented test numbers verbatim (several of the
 * memorable `4000…` numbers fail Luhn, and integrators copy them from the docs).
 */
export function isAcceptableNumber(number: string): boolean {
  if (!/^\d{12,19}$/.test(number)) return false;
  return luhnValid(number) || TEST_CARDS.some((card) => card.number === number);
}

export function cardBrand(number: string): string {
  if (/^4/.test(number)) return 'visa';
  if (/^(5[1-5]|2[2-7])/.test(number)) return 'mastercard';
  if (/^3[47]/.test(number)) return 'amex';
  if (/^(6011|65|64[4-9])/.test(number)) return 'discover';
  return 'unknown';
}
