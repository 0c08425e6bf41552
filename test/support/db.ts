import { inject } from 'vitest';
import { connectDatabase, type DatabaseHandle } from '../../src/db/client.js';

/** A direct connection to the stack's PostgreSQL, for assertions on what the API wrote. */
export function testDatabase(): DatabaseHandle {
  return connectDatabase(inject('databaseUrl'), { max: 5 });
}

export async function count(handle: DatabaseHandle, sql: string, params: unknown[] = []): Promise<number> {
  const result = await handle.pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM (${sql}) q`, params);
  return Number(result.rows[0]!.n);
}
