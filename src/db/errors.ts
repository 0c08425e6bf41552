/**
 * PostgreSQL errors that no retry can cure: the row itself is refused (SQLSTATE class 22, data
 * exceptions such as an untranslatable character, and the integrity violations below). A
 * connection loss, a deadlock or a serialization failure is transient and is not listed here.
 */
const PERMANENT_STATES = new Set(['23502', '23503', '23514']);

export function sqlState(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    if ('code' in e && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return e.code;
    e = 'cause' in e ? e.cause : undefined;
  }
  return undefined;
}

export function isPermanentDataError(error: unknown): boolean {
  const state = sqlState(error);
  return state !== undefined && (state.startsWith('22') || PERMANENT_STATES.has(state));
}
