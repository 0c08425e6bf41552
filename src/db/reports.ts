import { sql } from './orm.js';
import type { SQL } from 'drizzle-orm';
import type { Executor } from './client.js';

export interface SummaryQuery {
  tenantId: string;
  from: Date;
  to: Date;
  currency?: string | undefined;
}

/** Statuses whose money was taken (refunds included): the successes of the success rate. */
const CAPTURED_STATUSES = ['succeeded', 'partially_refunded', 'refunded'];
/** Not paid: failed for good, or declined and not (yet) paid by another attempt. */
const DECLINED_STATUSES = ['failed', 'requires_payment_method'];

export interface Summary {
  payments: {
    count: number;
    byStatus: Record<string, number>;
    byMethod: Record<string, number>;
    byCurrency: { currency: string; count: number; amount: number; captured: number; refunded: number }[];
  };
  refunds: {
    count: number;
    byStatus: Record<string, number>;
    byCurrency: { currency: string; count: number; amount: number }[];
  };
  /** Captured / (captured + failed); null when no payment in the range reached either. */
  successRate: number | null;
  timeToSettledMs: { p50: number | null; p95: number | null };
}

/** A bigint sum as a number: money is integer minor units and must stay exact. */
function exact(value: unknown): number {
  const number = Number(value ?? 0);
  if (!Number.isSafeInteger(number)) throw new RangeError(`sum ${String(value)} is beyond exact integers`);
  return number;
}

/** The report's three queries (exported so a test can EXPLAIN them). */
export function summaryQueries(query: SummaryQuery): { groups: SQL; timing: SQL; refunds: SQL } {
  const range = (table: SQL) =>
    sql`${table}.tenant_id = ${query.tenantId} AND ${table}.created_at >= ${query.from.toISOString()}
      AND ${table}.created_at < ${query.to.toISOString()}${query.currency ? sql` AND ${table}.currency = ${query.currency}` : sql``}`;
  return {
    groups: sql`
      SELECT p.status, p.method_type, p.currency, count(*)::bigint AS count, sum(p.amount)::bigint AS amount,
             sum(p.amount_captured)::bigint AS captured, sum(p.amount_refunded)::bigint AS refunded
      FROM payments p WHERE ${range(sql.raw('p'))}
      GROUP BY p.status, p.method_type, p.currency`,
    timing: sql`
      SELECT percentile_disc(ARRAY[0.5, 0.95]) WITHIN GROUP (
               ORDER BY (EXTRACT(EPOCH FROM p.settled_at - p.created_at) * 1000)::float8) AS ms
      FROM payments p WHERE ${range(sql.raw('p'))} AND p.settled_at IS NOT NULL`,
    refunds: sql`
      SELECT r.status, r.currency, count(*)::bigint AS count, sum(r.amount)::bigint AS amount
      FROM refunds r WHERE ${range(sql.raw('r'))}
      GROUP BY r.status, r.currency`,
  };
}

/**
 * One read-only query that PostgreSQL cancels (SQLSTATE 57014) once it has run
 * `statementTimeoutMs`: a report is a read a tenant may make heavy, and it must not hold a
 * connection of the pool and a PostgreSQL backend for as long as it likes.
 */
function boundedRead(db: Executor, query: SQL, statementTimeoutMs: number) {
  return db.transaction(
    async (tx) => {
      await tx.execute(sql`SELECT set_config('statement_timeout', ${String(statementTimeoutMs)}, true)`);
      return tx.execute(query);
    },
    { accessMode: 'read only' },
  );
}

/**
 * A tenant's payments and refunds created in [from, to), optionally in one currency. Each
 * query reads the range from an index on (tenant_id, created_at): payments_report includes every
 * column the report needs (an index-only scan), so the cost follows the range, not the table.
 * Volumes are per currency, never summed across them. Each of the three queries may run
 * `statementTimeoutMs`.
 */
export async function paymentsSummary(
  db: Executor,
  query: SummaryQuery,
  statementTimeoutMs: number,
): Promise<Summary> {
  const queries = summaryQueries(query);
  const [groups, timing, refunds] = await Promise.all([
    boundedRead(db, queries.groups, statementTimeoutMs),
    boundedRead(db, queries.timing, statementTimeoutMs),
    boundedRead(db, queries.refunds, statementTimeoutMs),
  ]);

  const summary: Summary = {
    payments: { count: 0, byStatus: {}, byMethod: {}, byCurrency: [] },
    refunds: { count: 0, byStatus: {}, byCurrency: [] },
    successRate: null,
    timeToSettledMs: { p50: null, p95: null },
  };
  const byCurrency = new Map<string, Summary['payments']['byCurrency'][number]>();
  let captured = 0;
  let failed = 0;
  for (const row of groups.rows) {
    const count = exact(row.count);
    const status = String(row.status);
    const currency = String(row.currency);
    summary.payments.count += count;
    summary.payments.byStatus[status] = (summary.payments.byStatus[status] ?? 0) + count;
    const method = String(row.method_type);
    summary.payments.byMethod[method] = (summary.payments.byMethod[method] ?? 0) + count;
    const entry = byCurrency.get(currency) ?? { currency, count: 0, amount: 0, captured: 0, refunded: 0 };
    entry.count += count;
    entry.amount += exact(row.amount);
    entry.captured += exact(row.captured);
    entry.refunded += exact(row.refunded);
    byCurrency.set(currency, entry);
    if (CAPTURED_STATUSES.includes(status)) captured += count;
    if (DECLINED_STATUSES.includes(status)) failed += count;
  }
  summary.payments.byCurrency = [...byCurrency.values()].sort((a, b) => a.currency.localeCompare(b.currency));
  if (captured + failed > 0)
    summary.successRate = Math.round((captured / (captured + failed)) * 10_000) / 10_000;

  const ms = (timing.rows[0] as { ms: number[] | null } | undefined)?.ms;
  if (ms) summary.timeToSettledMs = { p50: Math.round(Number(ms[0])), p95: Math.round(Number(ms[1])) };

  const refundCurrencies = new Map<string, { currency: string; count: number; amount: number }>();
  for (const row of refunds.rows) {
    const count = exact(row.count);
    const status = String(row.status);
    const currency = String(row.currency);
    summary.refunds.count += count;
    summary.refunds.byStatus[status] = (summary.refunds.byStatus[status] ?? 0) + count;
    const entry = refundCurrencies.get(currency) ?? { currency, count: 0, amount: 0 };
    entry.count += count;
    entry.amount += exact(row.amount);
    refundCurrencies.set(currency, entry);
  }
  summary.refunds.byCurrency = [...refundCurrencies.values()].sort((a, b) =>
    a.currency.localeCompare(b.currency),
  );
  return summary;
}
