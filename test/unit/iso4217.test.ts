import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import {
  EXCLUDED_CODES,
  generate,
  isoSource,
  OUTPUT,
  parseListOne,
  publishedDate,
} from '../../scripts/iso4217.js';
import { ISO_4217_EXPONENTS } from '../../src/domain/iso4217.js';
import { CURRENCIES, CURRENCY_EXPONENTS, isCurrency } from '../../src/domain/money.js';

const require = createRequire(import.meta.url);
/** The package's own reading of the list (data.js), a second opinion beside the XML. */
const { data } = require('currency-codes') as {
  data: { code: string; digits: number; currency: string }[];
};

describe('the ISO 4217 table', () => {
  it('is what scripts/iso4217.ts makes from the currency-codes package today (regenerate on drift)', () => {
    expect(readFileSync(OUTPUT, 'utf8')).toBe(generate());
  });

  it("agrees with the package's data.js on every code and exponent it keeps", () => {
    const kept = data.filter((entry) => !EXCLUDED_CODES.includes(entry.code));
    expect(Object.keys(ISO_4217_EXPONENTS).sort()).toEqual(kept.map((entry) => entry.code).sort());
    for (const entry of kept) {
      expect([entry.code, CURRENCY_EXPONENTS[entry.code as keyof typeof CURRENCY_EXPONENTS]]).toEqual([
        entry.code,
        entry.digits,
      ]);
    }
  });

  it('is list one of a recent publication, with NAD and every exponent the standard uses', () => {
    const { xml } = isoSource();
    expect(publishedDate(xml) >= '2024-06-25').toBe(true);
    expect(CURRENCY_EXPONENTS.NAD).toBe(2);
    expect(CURRENCY_EXPONENTS.EUR).toBe(2);
    expect(CURRENCY_EXPONENTS.JPY).toBe(0);
    expect(CURRENCY_EXPONENTS.ISK).toBe(0);
    expect(CURRENCY_EXPONENTS.KWD).toBe(3);
    expect(CURRENCY_EXPONENTS.CLF).toBe(4);
    expect(CURRENCY_EXPONENTS.UYW).toBe(4);
    expect(new Set(Object.values(CURRENCY_EXPONENTS))).toEqual(new Set([0, 2, 3, 4]));
    // Every currency Paysaga took before stays.
    for (const code of ['USD', 'GBP', 'CHF', 'KRW', 'VND', 'CLP', 'BHD', 'OMR', 'JOD', 'TND', 'ZAR']) {
      expect(isCurrency(code)).toBe(true);
    }
  });

  it('leaves out metals, units of account, testing and no-currency codes', () => {
    for (const code of EXCLUDED_CODES) expect(isCurrency(code)).toBe(false);
    expect(CURRENCIES).not.toContain('XAU');
    expect(isCurrency('toString')).toBe(false);
    expect(isCurrency('__proto__')).toBe(false);
  });

  it('refuses a list with an exponent it cannot place, rather than guessing', () => {
    const entry = (code: string, units: string) =>
      `<CcyNtry><CtryNm>X</CtryNm><CcyNm>Y</CcyNm><Ccy>${code}</Ccy><CcyNbr>999</CcyNbr><CcyMnrUnts>${units}</CcyMnrUnts></CcyNtry>`;
    expect(() => parseListOne(entry('QQQ', 'N.A.'))).toThrow(/QQQ has minor units N\.A\./);
    expect(parseListOne(entry('XAU', 'N.A.') + entry('NAD', '2') + entry('NAD', '2'))).toEqual([
      { code: 'NAD', name: 'Y', exponent: 2 },
    ]);
    expect(() => parseListOne(entry('QQQ', '2') + entry('QQQ', '3'))).toThrow(/two exponents/);
  });
});
