import { createHash } from 'node:crypto';
import type pg from 'pg';

/** Distinct statements a connection prepares at most (each is a plan PostgreSQL keeps for it). */
export const MAX_PREPARED_PER_CONNECTION = 200;
/** Distinct statement texts a connection counts uses of, so that odd shapes cannot grow it without end. */
const MAX_COUNTED_PER_CONNECTION = 2_000;
/** Uses after which a statement is prepared: one-off statements (DDL, odd shapes) never are. */
const PREPARE_AT_USE = 2;

interface QueryConfig {
  text: string;
  name?: string | undefined;
}

/**
 * Makes a connection send the statements it runs again as named prepared statements: PostgreSQL
 * parses and analyses each once per connection instead of at every call (and may keep a generic
 * plan), and each call sends only its parameters. Only parameterized statements (drizzle's and
 * `sql` templates, all of them in Paysaga) given as a config object are named, after their second
 * use, up to `MAX_PREPARED_PER_CONNECTION` per connection; the name is a hash of the text, so the
 * same text is the same statement in every connection.
 *
 * Off (`DATABASE_PREPARED_STATEMENTS=off`) for a pooler that cannot carry named statements across
 * server connections (PgBouncer in transaction mode before 1.21).
 */
export function keepPlans(client: pg.PoolClient): void {
  const send = client.query.bind(client) as (...args: unknown[]) => unknown;
  const counts = new Map<string, number>();
  const named = new Map<string, string>();
  const nameOf = (text: string): string | undefined => {
    const name = named.get(text);
    if (name !== undefined || named.size >= MAX_PREPARED_PER_CONNECTION) return name;
    const count = (counts.get(text) ?? 0) + 1;
    if (count >= PREPARE_AT_USE) {
      counts.delete(text);
      const prepared = statementName(text);
      named.set(text, prepared);
      return prepared;
    }
    if (counts.size < MAX_COUNTED_PER_CONNECTION) counts.set(text, count);
    return undefined;
  };
  (client as { query: unknown }).query = (...args: unknown[]) => {
    const [config, values] = args;
    if (isConfig(config) && config.name === undefined && Array.isArray(values) && values.length > 0) {
      const name = nameOf(config.text);
      if (name) return send({ ...config, name }, ...args.slice(1));
    }
    return send(...args);
  };
}

function isConfig(value: unknown): value is QueryConfig {
  return typeof value === 'object' && value !== null && typeof (value as QueryConfig).text === 'string';
}

export function statementName(text: string): string {
  return `paysaga_${createHash('sha1').update(text).digest('base64url').slice(0, 24)}`;
}
