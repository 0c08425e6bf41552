import { AppError } from './errors.js';

/**
 * Keyset paging over `(createdAt, id)`, newest first: the cursor is opaque to callers (base64url
 * of the last row's pair) and only what `encodeCursor` writes is taken back.
 */
export function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

const MAX_CURSOR_TIME = Date.UTC(10000, 0, 1);

/** The row a page starts after; `idPattern` is the ids the list holds. */
export function decodeCursor(
  cursor: string | undefined,
  idPattern: RegExp,
): { createdAt: string; id: string } | undefined {
  if (!cursor) return undefined;
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown[];
    // Only what encodeCursor writes: a time PostgreSQL can compare and an id of the list's kind.
    const time = typeof createdAt === 'string' ? Date.parse(createdAt) : Number.NaN;
    if (time >= 0 && time < MAX_CURSOR_TIME && typeof id === 'string' && idPattern.test(id))
      return { createdAt: new Date(time).toISOString(), id };
  } catch {
    // fall through to the refusal below
  }
  throw new AppError('invalid_request', 'invalid_cursor', 'cursor is not one this API returned');
}
