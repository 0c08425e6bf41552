import { describe, expect, it } from 'vitest';
import {
  CURRENCIES,
  CURRENCY_EXPONENTS,
  formatMinor,
  MAX_AMOUNT_MINOR,
  toMajorUnits,
  toMinorUnits,
  type Currency,
} from '../../src/domain/money.js';

describe('toMinorUnits', () => {
  it.each<[string | number, Currency, number]>([
    ['25.50', 'NAD', 2550],
    ['12.5', 'NAD', 1250],
    [12.5, 'NAD', 1250],
    [12.5, 'EUR', 1250],
    // 12.50 as a JSON number is the number 12.5.
    [JSON.parse('12.50') as number, 'NAD', 1250],
    ['12', 'NAD', 1200],
    [12, 'NAD', 1200],
    ['0.01', 'USD', 1],
    [0.01, 'USD', 1],
    // The classic float traps: 0.1 + 0.2 and 1.005 * 100 are never computed.
    [0.3, 'USD', 30],
    [1.005, 'KWD', 1005],
    [1.15, 'EUR', 115],
    [4.35, 'EUR', 435],
    ['0', 'EUR', 0],
    [0, 'EUR', 0],
    [-0, 'EUR', 0],
    ['007.50', 'EUR', 750],
    // Zeros past the exponent are no precision lost.
    ['12.500', 'NAD', 1250],
    ['5.00', 'JPY', 5],
    ['5', 'JPY', 5],
    [5, 'JPY', 5],
    ['1.234', 'KWD', 1234],
    ['0.001', 'KWD', 1],
    ['1.2', 'BHD', 1200],
    ['1.2345', 'CLF', 12345],
    ['0.0001', 'UYW', 1],
    ['1000000', 'ISK', 1000000],
    ['999999999.99', 'EUR', MAX_AMOUNT_MINOR],
    [999999999.99, 'EUR', MAX_AMOUNT_MINOR],
    ['99999999999', 'JPY', MAX_AMOUNT_MINOR],
    ['00000000000000000000001.00', 'EUR', 100],
    ['0.000000', 'EUR', 0],
  ])('%j %s is %i minor units', (value, currency, minor) => {
    expect(toMinorUnits(value, currency)).toBe(minor);
  });

  it.each<[string | number, Currency, RegExp]>([
    ['12.505', 'NAD', /more decimal places than the 2 of NAD/],
    [12.505, 'NAD', /more decimal places/],
    ['0.5', 'JPY', /more decimal places than the 0 of JPY/],
    [0.5, 'JPY', /more decimal places/],
    ['1.0001', 'KWD', /more decimal places than the 3 of KWD/],
    ['1.00001', 'CLF', /more decimal places than the 4 of CLF/],
    // String(n) is plain down to 1e-6, so this is read, and refused for its digits.
    [0.000001, 'EUR', /"0.000001" has more decimal places/],
    ['-1', 'EUR', /not a decimal amount/],
    [-1, 'EUR', /not a decimal amount/],
    [-0.5, 'EUR', /not a decimal amount/],
    ['1e2', 'EUR', /not a decimal amount/],
    ['1E2', 'EUR', /not a decimal amount/],
    [1e21, 'EUR', /not a decimal amount/],
    [1e-7, 'EUR', /not a decimal amount/],
    [Number.NaN, 'EUR', /NaN is not an amount/],
    [Number.POSITIVE_INFINITY, 'EUR', /Infinity is not an amount/],
    [Number.NEGATIVE_INFINITY, 'EUR', /not an amount/],
    ['', 'EUR', /not a decimal amount/],
    ['.5', 'EUR', /not a decimal amount/],
    ['5.', 'EUR', /not a decimal amount/],
    ['+5', 'EUR', /not a decimal amount/],
    [' 5', 'EUR', /not a decimal amount/],
    ['5 ', 'EUR', /not a decimal amount/],
    ['1,50', 'EUR', /not a decimal amount/],
    ['1_000', 'EUR', /not a decimal amount/],
    ['0x10', 'EUR', /not a decimal amount/],
    ['١٢', 'EUR', /not a decimal amount/],
    ['12.5.0', 'EUR', /not a decimal amount/],
    ['Infinity', 'EUR', /not a decimal amount/],
    ['1000000000.00', 'EUR', /more than the largest amount/],
    [1000000000, 'EUR', /more than the largest amount/],
    ['100000000000', 'JPY', /more than the largest amount/],
    ['99999999999999999999999999', 'JPY', /more than the largest amount/],
  ])('refuses %j %s', (value, currency, message) => {
    expect(() => toMinorUnits(value, currency)).toThrow(RangeError);
    expect(() => toMinorUnits(value, currency)).toThrow(message);
  });

  it('reads every currency by its own exponent', () => {
    for (const currency of CURRENCIES) {
      const exponent = CURRENCY_EXPONENTS[currency];
      expect(toMinorUnits('1', currency)).toBe(10 ** exponent);
      expect(toMinorUnits(`1.${'0'.repeat(exponent + 2)}`, currency)).toBe(10 ** exponent);
      if (exponent > 0) expect(toMinorUnits(`0.${'0'.repeat(exponent - 1)}1`, currency)).toBe(1);
      expect(() => toMinorUnits(`0.${'0'.repeat(exponent)}1`, currency)).toThrow(RangeError);
    }
  });
});

describe('toMajorUnits', () => {
  it.each<[number, Currency, string]>([
    [1250, 'NAD', '12.50'],
    [5, 'JPY', '5'],
    [0, 'JPY', '0'],
    [1, 'KWD', '0.001'],
    [1000, 'KWD', '1.000'],
    [5, 'EUR', '0.05'],
    [0, 'EUR', '0.00'],
    [-5, 'BHD', '-0.005'],
    [-1250, 'NAD', '-12.50'],
    [-0, 'EUR', '0.00'],
    [12345, 'CLF', '1.2345'],
    [1, 'UYW', '0.0001'],
    [MAX_AMOUNT_MINOR, 'EUR', '999999999.99'],
    [Number.MAX_SAFE_INTEGER, 'USD', '90071992547409.91'],
  ])('%i %s is %s', (minor, currency, major) => {
    expect(toMajorUnits(minor, currency)).toBe(major);
  });

  it.each([0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])('refuses %d minor units', (minor) => {
    expect(() => toMajorUnits(minor, 'EUR')).toThrow(RangeError);
  });

  it('is the inverse of toMinorUnits for every currency', () => {
    for (const currency of CURRENCIES) {
      for (const minor of [0, 1, 9, 10, 99, 100, 101, 1250, 123_456_789, MAX_AMOUNT_MINOR]) {
        expect(toMinorUnits(toMajorUnits(minor, currency), currency)).toBe(minor);
      }
    }
  });

  it('is what formatMinor shows, with the code', () => {
    expect(formatMinor(1250, 'NAD')).toBe('12.50 NAD');
    expect(formatMinor(5, 'JPY')).toBe('5 JPY');
    expect(formatMinor(-1, 'KWD')).toBe('-0.001 KWD');
  });
});
