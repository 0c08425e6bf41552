import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isStorableText, NO_NUL_PATTERN } from '../../src/domain/text.js';

describe('storable text (property)', () => {
  // Any UTF-16 code unit sequence, so NULs and lone surrogates of both kinds come up often.
  const units = fc
    .array(
      fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.constantFrom(0, 0xd800, 0xdbff, 0xdc00, 0xdfff)),
      {
        maxLength: 12,
      },
    )
    .map((codes) => String.fromCharCode(...codes));

  it('the pattern in the OpenAPI document agrees with the rule on every well-formed string', () => {
    fc.assert(
      fc.property(units, (s) => {
        const allowedByPattern = NO_NUL_PATTERN.test(s);
        // The pattern never lets through what the rule refuses for NUL, and on text without lone
        // surrogates (all a UTF-8 client can send unescaped) the two are the same rule.
        if (!allowedByPattern && isStorableText(s)) return false;
        return !s.isWellFormed() || allowedByPattern === isStorableText(s);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses exactly what PostgreSQL cannot store: NUL and unpaired surrogates', () => {
    fc.assert(
      fc.property(units, (s) => {
        const paired = s.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, '');
        const refusable = s.includes('\u0000') || /[\uD800-\uDFFF]/.test(paired);
        return isStorableText(s) === !refusable;
      }),
      { numRuns: 2000 },
    );
    expect(isStorableText('café 😀')).toBe(true);
    expect(isStorableText('a\u0000b')).toBe(false);
    expect(isStorableText('\ud83d')).toBe(false);
  });
});
