import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isStorableText, STORABLE_TEXT_PATTERN } from '../../src/domain/text.js';

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

  it('the pattern the OpenAPI document carries agrees with the rule the API applies', () => {
    fc.assert(
      fc.property(units, (s) => STORABLE_TEXT_PATTERN.test(s) === isStorableText(s)),
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
