/**
 * Money is an integer count of minor units plus an ISO 4217 currency. No floats: amounts are
 * validated as safe integers and Postgres stores them as bigint.
 */

/** Minor-unit exponent per supported ISO 4217 currency. */
export const CURRENCY_EXPONENTS = {
  USD: 2,
  EUR: 2,
  GBP: 2,
  CHF: 2,
  CAD: 2,
  AUD: 2,
  SEK: 2,
  NOK: 2,
  DKK: 2,
  PLN: 2,
  BRL: 2,
  MXN: 2,
  INR: 2,
  SGD: 2,
  HKD: 2,
  NZD: 2,
  ZAR: 2,
  NAD: 2,
  JPY: 0,
  KRW: 0,
  VND: 0,
  CLP: 0,
  ISK: 0,
  KWD: 3,
  BHD: 3,
  OMR: 3,
  JOD: 3,
  TND: 3,
} as const satisfies Record<string, 0 | 2 | 3>;

export type Currency = keyof typeof CURRENCY_EXPONENTS;

export const CURRENCIES = Object.keys(CURRENCY_EXPONENTS) as [Currency, ...Currency[]];

/** Largest amount a single payment may carry, in minor units (as Stripe's 99,999,999.99 cap, times 10). */
export const MAX_AMOUNT_MINOR = 99_999_999_999;

/** Renders minor units as a decimal string for humans; never used for arithmetic. */
export function formatMinor(amount: number, currency: Currency): string {
  const exponent = CURRENCY_EXPONENTS[currency];
  const sign = amount < 0 ? '-' : '';
  const digits = Math.abs(amount)
    .toString()
    .padStart(exponent + 1, '0');
  if (exponent === 0) return `${sign}${digits} ${currency}`;
  return `${sign}${digits.slice(0, -exponent)}.${digits.slice(-exponent)} ${currency}`;
}

/**
 * A decimal amount in major units (a JSON number such as 12.5, or a string such as "25.50") as
 * integer minor units, without float arithmetic: a number is read as `String(n)`, the shortest
 * decimal that reads back as n, then digit by digit. Throws RangeError on anything else.
 */
export function toMinorUnits(value: string | number, currency: Currency): number {
  const exponent = CURRENCY_EXPONENTS[currency];
  const text = typeof value === 'number' ? String(value) : value.trim();
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match) throw new RangeError(`"${text}" is not a decimal amount`);
  const [, whole = '', fraction = ''] = match;
  if (fraction.length > exponent && !/^0*$/.test(fraction.slice(exponent)))
    throw new RangeError(`${text} has more than ${exponent} decimals for ${currency}`);
  const digits = (whole + fraction.slice(0, exponent).padEnd(exponent, '0')).replace(/^0+(?=\d)/, '');
  if (digits.length > 15 || Number(digits) > MAX_AMOUNT_MINOR)
    throw new RangeError(`${text} ${currency} is over the largest amount`);
  return Number(digits);
}

/** Integer minor units as the exact decimal string in major units: 1250 EUR → "12.50". */
export function toMajorUnits(minor: number, currency: Currency): string {
  if (!Number.isSafeInteger(minor)) throw new RangeError(`${minor} is not an integer amount`);
  const exponent = CURRENCY_EXPONENTS[currency];
  const sign = minor < 0 ? '-' : '';
  const digits = Math.abs(minor)
    .toString()
    .padStart(exponent + 1, '0');
  if (exponent === 0) return `${sign}${digits}`;
  return `${sign}${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}
