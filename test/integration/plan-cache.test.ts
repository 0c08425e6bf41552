import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { connectDatabase } from '../../src/db/client.js';
import { findPaymentByOrder } from '../../src/db/payments.js';
import { statementName } from '../../src/db/plan-cache.js';

const url = inject('databaseUrl');
/** One connection each, so that the session's prepared statements are the ones it made. */
const kept = connectDatabase(url, { max: 1 });
const plain = connectDatabase(url, { max: 1, preparedStatements: false });
afterAll(async () => {
  await kept.close();
  await plain.close();
});

const preparedHere = async (handle: typeof kept) =>
  (await handle.pool.query<{ name: string }>('SELECT name FROM pg_prepared_statements')).rows.map(
    (r) => r.name,
  );

describe('statements kept prepared on PostgreSQL', () => {
  it('runs a statement used again as a named prepared statement, with each call its own values', async () => {
    const doubled = async (n: number) => {
      const result = await kept.db.execute(sql`SELECT ${n}::int * 2 AS doubled`);
      return result.rows[0]!.doubled;
    };
    expect([await doubled(1), await doubled(2), await doubled(21)]).toEqual([2, 4, 42]);
    const text = 'SELECT $1::int * 2 AS doubled';
    expect(await preparedHere(kept)).toContain(statementName(text));
    // drizzle's own queries, their rows mapped, as before.
    for (let i = 0; i < 3; i++)
      expect(await findPaymentByOrder(kept.db, 'plan-cache', `none-${i}`)).toBeUndefined();
    expect((await preparedHere(kept)).length).toBeGreaterThanOrEqual(2);
  });

  it('prepares nothing when turned off', async () => {
    for (let i = 0; i < 3; i++) await plain.db.execute(sql`SELECT ${i}::int AS n`);
    expect(await preparedHere(plain)).toEqual([]);
  });
});
