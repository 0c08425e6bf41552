import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseJsonBody } from '../../src/app/json-body.js';
import { AppError } from '../../src/app/errors.js';

/** What parseJsonBody must refuse, computed from the value rather than from the text. */
function forbidden(value: unknown, parentKey?: string): boolean {
  if (typeof value === 'string') return value.includes('\0');
  if (Array.isArray(value)) return value.some((v) => forbidden(v));
  if (value && typeof value === 'object') {
    return Object.entries(value).some(
      ([k, v]) =>
        k === '__proto__' ||
        (k === 'prototype' && parentKey === 'constructor') ||
        k.includes('\0') ||
        forbidden(v, k),
    );
  }
  return false;
}

function codeOf(text: string): string {
  try {
    parseJsonBody(text);
    return 'ok';
  } catch (error) {
    if (error instanceof AppError) return error.code;
    throw error;
  }
}

const json = fc.jsonValue({ maxDepth: 4 });
const objectWithKeys = fc
  .dictionary(fc.string({ minLength: 1, maxLength: 8 }), json, { minKeys: 1, maxKeys: 6 })
  .filter((o) => !forbidden(o));

describe('JSON body parser (property)', () => {
  it('parses what JSON.parse parses, and refuses exactly __proto__, constructor.prototype and NUL', () => {
    fc.assert(
      fc.property(json, fc.constantFrom(undefined, 2), (value, indent) => {
        const text = JSON.stringify(value, null, indent);
        if (forbidden(value)) {
          expect(['invalid_json', 'validation_error']).toContain(codeOf(text));
        } else {
          expect(parseJsonBody(text)).toEqual(JSON.parse(text));
        }
      }),
      { numRuns: 400 },
    );
  });

  it('refuses a key repeated in one object, however deep, and only then', () => {
    fc.assert(
      fc.property(
        objectWithKeys,
        fc.nat(),
        fc.nat({ max: 3 }),
        fc.boolean(),
        (object, pick, depth, escape) => {
          const keys = Object.keys(object);
          const key = keys[pick % keys.length]!;
          // Writes the key a second time, possibly \u-escaped, possibly inside wrapping objects.
          const spelled = escape
            ? `"${[...key].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"`
            : JSON.stringify(key);
          const inner = `{${spelled}: null, ${JSON.stringify(object).slice(1)}`;
          let text = inner;
          for (let i = 0; i < depth; i++) text = `{"w${i}": [${text}], "w${i}x": ${inner.length}}`;
          expect(codeOf(text)).toBe('invalid_json');
          // The same objects side by side (not merged) are fine.
          expect(codeOf(`[${JSON.stringify(object)}, ${JSON.stringify(object)}]`)).toBe('ok');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never throws anything but a problem on arbitrary text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        expect(['ok', 'invalid_json', 'validation_error']).toContain(codeOf(text));
      }),
      { numRuns: 400 },
    );
  });
});
