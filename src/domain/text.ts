import { z } from 'zod';

/**
 * Free text callers send (descriptions, metadata, refund reasons) is stored in PostgreSQL, which
 * cannot hold a NUL character nor a lone UTF-16 surrogate (in `text` or in `jsonb`). One rule
 * for every free-text field, checked before anything reaches a workflow: text PostgreSQL would
 * refuse must be refused at the door, or the step that persists it can never succeed.
 */
const NUL = '\u0000';

export function isStorableText(value: string): boolean {
  return !value.includes(NUL) && value.isWellFormed();
}

/**
 * The NUL half of the rule as a regular expression, for the OpenAPI document: JSON Schema tools
 * (Schemathesis among them) cannot generate from surrogate ranges, and a lone surrogate cannot
 * be written in UTF-8 at all, only as a JSON escape. The API checks the whole rule.
 */
// eslint-disable-next-line no-control-regex -- matching NUL is the point
export const NO_NUL_PATTERN = /^[^\u0000]*$/;

export const STORABLE_TEXT_MESSAGE = 'must not contain NUL characters or unpaired UTF-16 surrogates';

/**
 * Every free-text field: bounded, and only text PostgreSQL can store. The NUL rule is a pattern
 * too, so the OpenAPI document (and its fuzzers) carry it; the refine adds surrogates. A field
 * whose `format` excludes NUL already (a URI) leaves the pattern out with `nulPattern: false`.
 */
export const storableText = (max: number, options: { nulPattern?: boolean } = {}) => {
  const bounded = z.string().max(max);
  return (
    options.nulPattern === false ? bounded : bounded.regex(NO_NUL_PATTERN, STORABLE_TEXT_MESSAGE)
  ).refine(isStorableText, STORABLE_TEXT_MESSAGE);
};
