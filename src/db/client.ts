import path from 'node:path';
import { drizzle } from './orm.js';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from './orm.js';
import pg from 'pg';
import { PROJECT_ROOT } from '../project-root.js';
import { keepPlans } from './plan-cache.js';
import * as schema from './schema.js';

export type Database = NodePgDatabase<typeof schema>;
/** A database handle or an open transaction: query functions accept either. */
export type Executor = Pick<
  Database,
  'select' | 'insert' | 'update' | 'delete' | 'execute' | 'transaction' | '_'
>;

export interface DatabaseHandle {
  db: Database;
  pool: pg.Pool;
  close(): Promise<void>;
}

// bigint columns come back as strings by default; money fits in a safe integer (checked on input).
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`bigint ${value} exceeds the safe integer range`);
  return n;
});

export function connectDatabase(
  url: string,
  options: { max?: number; connectionTimeoutMillis?: number; preparedStatements?: boolean } = {},
): DatabaseHandle {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    // 0 (pg's default) waits forever for a connection when the server hangs.
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 10_000,
  });
  // pg emits 'error' on a client the server drops (a restart, 57P01). The pool listens only on
  // idle clients; one that is checked out would crash the process with an unhandled 'error'.
  // The query it was running fails on its own and is retried by its caller.
  pool.on('error', (error) => console.error('postgres pool error', error.message));
  pool.on('connect', (client) => {
    client.on('error', (error) => console.error('postgres connection lost', error.message));
    if (options.preparedStatements ?? true) keepPlans(client);
  });
  const db = drizzle(pool, { schema });
  return { db, pool, close: () => pool.end() };
}

const MIGRATION_LOCK = 7_041_985;

/** Applies drizzle-kit's migrations; an advisory lock lets the API, worker and tests race safely. */
export async function migrateDatabase(url: string): Promise<void> {
  const handle = connectDatabase(url, { max: 1 });
  const client = await handle.pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await migrate(drizzle(client), { migrationsFolder: path.join(PROJECT_ROOT, 'migrations') });
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
  } finally {
    client.release();
    await handle.close();
  }
}
