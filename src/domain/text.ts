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

/** `isStorableText` as a regular expression (for JSON Schema): no NUL, surrogates only in pairs. */
// eslint-disable-next-line no-control-regex -- matching NUL is the point
export const STORABLE_TEXT_PATTERN = /^(?:[^\u0000\uD800-\uDFFF]|[\uD800-\uDBFF][\uDC00-\uDFFF])*$/;

export const STORABLE_TEXT_MESSAGE = 'must not contain NUL characters or unpaired UTF-16 surrogates';
