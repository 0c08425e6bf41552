import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CURRENCIES, CURRENCY_EXPONENTS, formatMinor, MAX_AMOUNT_MINOR } from '../../src/domain/money.js';
import { amount as amountSchema, currency as currencySchema } from '../../src/app/schemas.js';

const currency = fc.constantFrom(...CURRENCIES);
const RUNS = { numRuns: 500 };

/** An independent rendering of minor units with BigInt arithmetic. */
function oracle(amount: number, exponent: number): string {
  const value = BigInt(amount);
  const abs = value < 0n ? -value : value;
  const unit = 10n ** BigInt(exponent);
  const whole = (abs / unit).toString();
  const fraction = (abs % unit).toString().padStart(exponent, '0');
  return `${value < 0n ? '-' : ''}${whole}${exponent > 0 ? `.${fraction}` : ''}`;
}

describe('money (property)', () => {
  it('the exponent table agrees with ISO 4217 as the runtime’s CLDR data knows it', () => {
    fc.assert(
      fc.property(currency, (code) => {
        const digits = new Intl.NumberFormat('en', { style: 'currency', currency: code }).resolvedOptions()
          .maximumFractionDigits;
        expect(CURRENCY_EXPONENTS[code]).toBe(digits);
      }),
      { numRuns: CURRENCIES.length * 3 },
    );
  });

  it('the currency schema accepts exactly the table’s codes (not inherited object keys)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'usd', 'USD '),
          fc.stringMatching(/^[A-Z]{3}$/),
        ),
        (code) => {
          expect(currencySchema.safeParse(code).success).toBe(
            (CURRENCIES as readonly string[]).includes(code),
          );
        },
      ),
      RUNS,
    );
  });

  it('the amount schema takes exactly the positive integers within the cap', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: -10, max: 10 }),
          fc.integer({ min: MAX_AMOUNT_MINOR - 10, max: MAX_AMOUNT_MINOR + 10 }),
          fc.maxSafeInteger(),
          fc.double(),
        ),
        (amount) => {
          const expected = Number.isInteger(amount) && amount >= 1 && amount <= MAX_AMOUNT_MINOR;
          expect(amountSchema.safeParse(amount).success).toBe(expected);
        },
      ),
      RUNS,
    );
  });

  it('formatMinor renders minor units exactly: exponent digits after the point, no float drift', () => {
    fc.assert(
      fc.property(fc.integer({ min: -MAX_AMOUNT_MINOR, max: MAX_AMOUNT_MINOR }), currency, (amount, code) => {
        const exponent = CURRENCY_EXPONENTS[code];
        const text = formatMinor(amount, code);
        expect(text).toBe(`${oracle(amount, exponent)} ${code}`);
        const number = text.slice(0, -(code.length + 1));
        expect(number).toMatch(exponent === 0 ? /^-?\d+$/ : new RegExp(`^-?\\d+\\.\\d{${exponent}}$`));
        // Removing the point gives the integer back: no rounding anywhere.
        expect(Number(number.replace('.', ''))).toBe(amount === 0 ? 0 : amount);
      }),
      RUNS,
    );
  });

  it('formatMinor is monotonic in the amount for one currency', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: MAX_AMOUNT_MINOR }),
        fc.nat({ max: MAX_AMOUNT_MINOR }),
        currency,
        (a, b, code) => {
          const value = (n: number) => Number(formatMinor(n, code).split(' ')[0]);
          if (a < b) expect(value(a)).toBeLessThanOrEqual(value(b));
        },
      ),
      RUNS,
    );
  });
});
