/**
 * A profile's mappings: JSONata expressions (https://jsonata.org), compiled once when the profile
 * is loaded and evaluated on one message or event at a time. A mapping sees only its input and
 * the profile's defaults, and has no way to do I/O: the only functions are JSONata's own (pure)
 * and the money conversions below. Each evaluation is bounded in time, depth and sequence length,
 * so a runaway expression fails its one message instead of holding a consumer or the relay.
 */
import { createHash } from 'node:crypto';
import jsonata from 'jsonata';
import { CURRENCIES, toMajorUnits, toMinorUnits, type Currency } from '../domain/money.js';

/** Guardrails of one evaluation (JSONata's own options). */
const LIMITS = { timeout: 250, stack: 300, sequence: 10_000 } as const;

/** Why a mapping could not give a result: the message is dead-lettered or the event parked with it. */
export class MappingError extends Error {
  override readonly name = 'MappingError';
}

/**
 * `$decimal(minor)` marks its result so the JSON written keeps the exact decimal (`12.50`, as the
 * receiving system's contract writes it) rather than the float JavaScript would print (`12.5`).
 * The mark is a prefix no JSON string from outside can carry (a NUL, which inputs refuse).
 */
const DECIMAL_MARK = '\u0000decimal:';

export interface MappingContext {
  /** The profile's default currency: the one `$minor` and `$decimal` use when given none. */
  currency?: Currency | undefined;
}

export interface Mapping {
  readonly source: string;
  /** The result, as plain JSON (objects, arrays, strings, numbers, booleans, null); undefined when nothing matched. */
  evaluate(input: unknown, variables?: Record<string, unknown>): Promise<unknown>;
}

/** Compiles a mapping; a syntax error throws, naming `where` (e.g. `inbound[0].map`). */
export function compileMapping(source: string, where: string, context: MappingContext = {}): Mapping {
  let expression: jsonata.Expression;
  try {
    expression = jsonata(source, LIMITS);
  } catch (error) {
    throw new Error(`${where}: ${describeJsonataError(error)}`);
  }
  registerMoney(expression, context);
  return {
    source,
    async evaluate(input, variables = {}) {
      let result: unknown;
      try {
        result = await expression.evaluate(input, variables);
      } catch (error) {
        throw new MappingError(`${where}: ${describeJsonataError(error)}`);
      }
      return plain(result, where);
    },
  };
}

/** Serializes a mapping's result: `$decimal` marks become exact JSON numbers. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    typeof item === 'string' && item.startsWith(DECIMAL_MARK)
      ? rawJson(item.slice(DECIMAL_MARK.length))
      : item,
  );
}

/** `JSON.rawJSON` (Node 22+): a number written as given. */
const rawJson = (text: string): unknown =>
  (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON(text);

/** A mapping's result with `$decimal` marks read as numbers (for validation and tests). */
export function withDecimals(value: unknown): unknown {
  return JSON.parse(toJson(value)) as unknown;
}

function currencyOf(code: unknown, context: MappingContext, fn: string): Currency {
  const chosen = code ?? context.currency;
  if (typeof chosen !== 'string' || !(CURRENCIES as readonly string[]).includes(chosen))
    throw new MappingError(
      chosen === undefined
        ? `${fn}: no currency given and the profile has no default currency`
        : `${fn}: unknown currency ${JSON.stringify(chosen)}`,
    );
  return chosen as Currency;
}

function registerMoney(expression: jsonata.Expression, context: MappingContext): void {
  const money = <T>(fn: string, convert: () => T): T => {
    try {
      return convert();
    } catch (error) {
      if (error instanceof RangeError) throw new MappingError(`${fn}: ${error.message}`);
      throw error;
    }
  };
  // $minor(12.5) / $minor("25.50", "NAD"): a decimal amount in major units → integer minor units.
  expression.registerFunction(
    'minor',
    (value: unknown, code?: unknown) => {
      if (typeof value !== 'number' && typeof value !== 'string')
        throw new MappingError(
          `$minor: expected a number or a string, got ${JSON.stringify(value) ?? 'nothing'}`,
        );
      return money('$minor', () => toMinorUnits(value, currencyOf(code, context, '$minor')));
    },
    '<(ns)s?:n>',
  );
  // $decimal(1250) → 12.50 in the JSON written (a number with the currency's decimals).
  expression.registerFunction(
    'decimal',
    (minor: number, code?: unknown) =>
      DECIMAL_MARK + money('$decimal', () => toMajorUnits(minor, currencyOf(code, context, '$decimal'))),
    '<ns?:s>',
  );
  // $uuid("payment:t:o#payment.succeeded#2") → the same UUID every time for the same text (v5
  // layout over SHA-1), for contracts whose event ids are UUIDs.
  expression.registerFunction('uuid', (text: string) => nameUuid(text), '<s:s>');
  // $decimalString(1250) → "12.50".
  expression.registerFunction(
    'decimalString',
    (minor: number, code?: unknown) =>
      money('$decimalString', () => toMajorUnits(minor, currencyOf(code, context, '$decimalString'))),
    '<ns?:s>',
  );
}

/** A name-based UUID (RFC 9562 version 5 layout) of `text`. */
function nameUuid(text: string): string {
  const bytes = createHash('sha1').update(`paysaga:${text}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** JSONata's results carry sequences and functions; what leaves a mapping is plain JSON only. */
function plain(value: unknown, where: string): unknown {
  if (value === undefined || value === null) return value;
  if (typeof value === 'function') throw new MappingError(`${where}: the result is a function`);
  if (typeof value === 'number' && !Number.isFinite(value))
    throw new MappingError(`${where}: the result holds a number that is not finite`);
  if (Array.isArray(value)) return value.map((item) => plain(item, where));
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const converted = plain(item, where);
      if (converted !== undefined) out[key] = converted;
    }
    return out;
  }
  return value;
}

function describeJsonataError(error: unknown): string {
  if (error && typeof error === 'object' && 'message' in error) {
    const { message, position, code } = error as { message: string; position?: number; code?: string };
    return `${message}${code ? ` (${code}` : ''}${position !== undefined ? ` at ${position}` : ''}${code ? ')' : ''}`;
  }
  return String(error);
}
