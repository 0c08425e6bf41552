import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CURRENCIES,
  CURRENCY_EXPONENTS,
  formatMinor,
  MAX_AMOUNT_MINOR,
  toMajorUnits,
  toMinorUnits,
} from '../../src/domain/money.js';
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
  // The exponents are ISO 4217's, checked against the standard's list in test/unit/iso4217.test.ts.
  // The runtime's CLDR data is no oracle for them: it holds display digits, which differ from
  // ISO's minor units for some currencies (HUF, IDR, COP, MGA show none).

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

  it('toMinorUnits reads any plain decimal within the exponent exactly (oracle: BigInt over the digits)', () => {
    fc.assert(
      fc.property(
        currency,
        fc.bigInt({ min: 0n, max: BigInt(MAX_AMOUNT_MINOR) }),
        fc.nat({ max: 3 }),
        (code, minor, zeros) => {
          const exponent = CURRENCY_EXPONENTS[code];
          const text = oracle(Number(minor), exponent) + (exponent > 0 ? '0'.repeat(zeros) : '');
          expect(toMinorUnits(text, code)).toBe(Number(minor));
          expect(toMajorUnits(Number(minor), code)).toBe(oracle(Number(minor), exponent));
        },
      ),
      RUNS,
    );
  });

  it('toMinorUnits of a JSON number is what its decimal text says, never float arithmetic', () => {
    fc.assert(
      fc.property(currency, fc.nat({ max: 999_999_999 }), fc.nat({ max: 9999 }), (code, whole, fraction) => {
        const exponent = CURRENCY_EXPONENTS[code];
        const digits = String(fraction).padStart(4, '0').slice(0, exponent);
        const written = exponent > 0 ? `${whole}.${digits}` : `${whole}`;
        const minor = BigInt(`${whole}${digits}`);
        const value = JSON.parse(written) as number;
        if (minor > BigInt(MAX_AMOUNT_MINOR)) {
          expect(() => toMinorUnits(value, code)).toThrow(RangeError);
        } else {
          expect(toMinorUnits(value, code)).toBe(Number(minor));
        }
      }),
      RUNS,
    );
  });

  it('toMinorUnits refuses every string that is not a plain decimal, with a RangeError', () => {
    fc.assert(
      fc.property(currency, fc.string(), (code, text) => {
        let result: number | undefined;
        try {
          result = toMinorUnits(text, code);
        } catch (error) {
          expect(error).toBeInstanceOf(RangeError);
          return;
        }
        expect(text).toMatch(/^\d+(\.\d+)?$/);
        expect(Number.isSafeInteger(result)).toBe(true);
      }),
      RUNS,
    );
  });
});
