/**
 * Strict JSON, as both doors read it: the API's request bodies and the broker's command messages.
 */
import { AppError } from './errors.js';

/** The largest request body the API reads, and the largest broker command the consumer reads. */
export const MAX_BODY_BYTES = 64 * 1024;

export interface FieldError {
  path: string;
  message: string;
}

export const NUL_MESSAGE = 'must not contain the NUL character (U+0000)';

export function invalidCharacters(errors: FieldError[]): AppError {
  return new AppError('invalid_request', 'validation_error', 'the request does not match the schema', {
    extensions: { errors },
  });
}

/** One string token of JSON text, starting at `lastIndex`; the text has already been parsed. */
const STRING_TOKEN = /"[^"\\]*(?:\\.[^"\\]*)*"/y;
const FORBIDDEN_KEY_DETAIL =
  'is not allowed in a JSON body: it could change object prototypes (prototype pollution)';

interface Frame {
  /** Keys seen so far; null for an array. */
  keys: Set<string> | null;
  /** The key of the member being read (objects) or the element index (arrays). */
  key: string;
  index: number;
  path: string;
  /** The key this object is the value of, for `constructor.prototype`. */
  parentKey: string | undefined;
}

const isJsonSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

function invalidJson(detail: string, path: string, message: string): AppError {
  return new AppError('invalid_request', 'invalid_json', detail, {
    extensions: { errors: [{ path, message }] },
  });
}

/**
 * The API's JSON body parser: JSON.parse once, then one linear pass over the text that refuses
 * what JSON.parse lets through silently: a key given twice (JSON.parse keeps the last one, so
 * two readers of one body could see two different requests), `__proto__` and
 * `constructor.prototype` keys, and NUL characters in strings (PostgreSQL cannot store them).
 */
export function parseJsonBody(raw: string): unknown {
  const text = raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
  if (text.trim() === '')
    throw new AppError(
      'invalid_request',
      'invalid_json',
      "the body is empty but content-type is 'application/json'",
    );
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new AppError(
      'invalid_request',
      'invalid_json',
      `the body is not valid JSON: ${(error as Error).message}`,
    );
  }
  // Without a string, there is no key and no text to check.
  if (!text.includes('"')) return value;

  const stack: Frame[] = [];
  const memberPath = (frame: Frame | undefined) =>
    !frame ? 'body' : frame.keys ? `${frame.path}.${frame.key}` : `${frame.path}[${frame.index}]`;
  for (let i = 0; i < text.length;) {
    const c = text.charCodeAt(i);
    const top = stack.at(-1);
    if (c === 0x22 /* " */) {
      STRING_TOKEN.lastIndex = i;
      const token = STRING_TOKEN.exec(text)![0];
      i += token.length;
      const content = token.includes('\\') ? (JSON.parse(token) as string) : token.slice(1, -1);
      let j = i;
      while (isJsonSpace(text.charCodeAt(j))) j++;
      if (top?.keys && text.charCodeAt(j) === 0x3a /* : */) {
        const shown = JSON.stringify(content);
        if (content === '__proto__')
          throw invalidJson(
            `the key "__proto__" ${FORBIDDEN_KEY_DETAIL}`,
            top.path,
            'forbidden key __proto__',
          );
        if (content === 'prototype' && top.parentKey === 'constructor')
          throw invalidJson(
            `the key "constructor.prototype" ${FORBIDDEN_KEY_DETAIL}`,
            top.path,
            'forbidden key constructor.prototype',
          );
        if (top.keys.has(content))
          throw invalidJson(
            `the key ${shown} appears more than once in ${top.path}; JSON keys must be unique`,
            `${top.path}.${content}`,
            'duplicate key',
          );
        if (content.includes('\0'))
          throw invalidCharacters([
            { path: `${top.path}.${content.replaceAll('\0', '\\u0000')}`, message: NUL_MESSAGE },
          ]);
        top.keys.add(content);
        top.key = content;
      } else if (content.includes('\0')) {
        throw invalidCharacters([{ path: memberPath(top), message: NUL_MESSAGE }]);
      }
      continue;
    }
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      stack.push({
        keys: c === 0x7b ? new Set() : null,
        key: '',
        index: 0,
        path: memberPath(top),
        parentKey: top?.keys ? top.key : undefined,
      });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */ && top && !top.keys) {
      top.index++;
    }
    i++;
  }
  return value;
}
