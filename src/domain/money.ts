/**
 * Money is an integer count of minor units plus an ISO 4217 currency. No floats: amounts are
 * validated as safe integers and Postgres stores them as bigint.
 */
import { ISO_4217_EXPONENTS } from './iso4217.js';

/**
 * Minor-unit exponent per supported currency: every code of ISO 4217 list one that is money
 * (generated into iso4217.ts from the standard's XML; see scripts/iso4217.ts for what is left
 * out and why).
 */
export const CURRENCY_EXPONENTS = ISO_4217_EXPONENTS;

export type Currency = keyof typeof CURRENCY_EXPONENTS;

/** A currency's exponent: 0 (JPY), 2 (EUR), 3 (KWD) or 4 (CLF, UYW). */
export type Exponent = (typeof CURRENCY_EXPONENTS)[Currency];

export const CURRENCIES = Object.keys(CURRENCY_EXPONENTS) as [Currency, ...Currency[]];

/** Largest amount a single payment may carry, in minor units (as Stripe's 99,999,999.99 cap, times 10). */
export const MAX_AMOUNT_MINOR = 99_999_999_999;

/** Whether `code` is a supported currency (own keys only: not `toString` or `__proto__`). */
export function isCurrency(code: string): code is Currency {
  return Object.hasOwn(CURRENCY_EXPONENTS, code);
}

/** A plain decimal in major units: digits, optionally a point and digits. No sign, no exponent. */
const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/**
 * A decimal amount in major units (`12.5`, `"25.50"`) as integer minor units of `currency`,
 * without float arithmetic: a number is read as `String(n)`, the shortest decimal that reads
 * back as n (exactly what the sender wrote when they wrote a decimal), and the digits are then
 * moved, not multiplied. Refused with a RangeError: a negative or non-finite value, exponent
 * notation (`1e2`, and numbers whose String() uses it, below 1e-6 or from 1e21), more fraction
 * digits than the currency has unless the extra ones are zeros, and more than MAX_AMOUNT_MINOR.
 */
export function toMinorUnits(value: string | number, currency: Currency): number {
  const exponent = CURRENCY_EXPONENTS[currency];
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new RangeError(`${String(value)} is not an amount`);
  }
  const text = typeof value === 'number' ? String(value) : value;
  const match = DECIMAL.exec(text);
  if (!match) {
    throw new RangeError(
      `${JSON.stringify(text)} is not a decimal amount (digits, optionally a point and digits; no sign or exponent)`,
    );
  }
  const whole = match[1]!;
  const fraction = match[2] ?? '';
  const extra = fraction.slice(exponent);
  if (/[^0]/.test(extra)) {
    throw new RangeError(
      `${JSON.stringify(text)} has more decimal places than the ${exponent} of ${currency}`,
    );
  }
  const digits = `${whole}${fraction.slice(0, exponent).padEnd(exponent, '0')}`.replace(/^0+(?=\d)/, '');
  // Compared as digit strings first: a long string would lose precision as a Number.
  if (digits.length > String(MAX_AMOUNT_MINOR).length || Number(digits) > MAX_AMOUNT_MINOR) {
    throw new RangeError(`${JSON.stringify(text)} ${currency} is more than the largest amount`);
  }
  return Number(digits);
}

/** Integer minor units as the exact decimal in major units: 1250 NAD "12.50", 5 JPY "5", 1 KWD "0.001". */
export function toMajorUnits(minor: number, currency: Currency): string {
  if (!Number.isSafeInteger(minor)) throw new RangeError(`${minor} is not an integer amount of minor units`);
  const exponent = CURRENCY_EXPONENTS[currency];
  const sign = minor < 0 ? '-' : '';
  const digits = String(Math.abs(minor)).padStart(exponent + 1, '0');
  if (exponent === 0) return `${sign}${digits}`;
  return `${sign}${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

/** Renders minor units as a decimal string for humans; never used for arithmetic. */
export function formatMinor(amount: number, currency: Currency): string {
  return `${toMajorUnits(amount, currency)} ${currency}`;
}
