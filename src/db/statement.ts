import type { Query, SQL } from 'drizzle-orm';
import type { QueryResult } from 'pg';
import type { Executor } from './client.js';
import { PgDialect, sql } from './orm.js';

/** The project's dialect has no options (no casing): one instance compiles every cached statement. */
const dialect = new PgDialect();

/**
 * A statement on the hot path whose SQL drizzle builds once. The first run gives its builder a
 * placeholder for each of its values instead of the value; drizzle's query builders (inserts,
 * upserts, conditions) take them and encode each value by its column when it is filled in (JSON,
 * timestamps). Later runs fill the placeholders of the text built then, without walking the
 * builders again (about a millisecond of a worker's CPU per wallet payment, docs/benchmarks.md).
 * So the builder must give the same SQL whatever the values, and every run the same value names.
 * Unlike a statement built with its values, a null is encoded by its column too: a jsonb column
 * stores the JSON `null` (read back as null all the same), and a timestamp column cannot take one.
 * Keeping it SQL NULL here (a wrapping encoder) made the quick chaos run fail, seed 2015708723
 * (webhooks slow while Kafka was down), for a reason not found yet (docs/benchmarks.md).
 */
export class CachedStatement<Values extends Record<string, unknown>> {
  private compiled: { query: Query; names: number } | undefined;

  constructor(private readonly build: (db: Executor, slots: Values) => SQL) {}

  async execute(db: Executor, values: Values): Promise<QueryResult> {
    const names = Object.keys(values);
    if (!this.compiled) {
      const slots = Object.fromEntries(names.map((name) => [name, sql.placeholder(name)])) as Values;
      this.compiled = { query: dialect.sqlToQuery(this.build(db, slots)), names: names.length };
    } else if (names.length !== this.compiled.names)
      // A missing one fails in drizzle; an extra one would be dropped without a word.
      throw new Error(
        `a cached statement built with ${this.compiled.names} values was given ${names.length}`,
      );
    return (await db._.session
      .prepareQuery(this.compiled.query, undefined, undefined, false)
      .execute(values)) as Promise<QueryResult>;
  }
}

/** `row`'s fields under `prefix`: one row's values among a statement's. */
export function prefixed(prefix: string, row: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) out[prefix + key] = value;
  return out;
}

/** The fields under `prefix`, without it: the row `prefixed` put there (its placeholders, in a builder). */
export function unprefixed<Row>(values: Record<string, unknown>, prefix: string): Row {
  const row: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values))
    if (key.startsWith(prefix)) row[key.slice(prefix.length)] = value;
  return row as Row;
}
