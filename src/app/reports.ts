import type { Config } from '../config.js';
import type { Executor } from '../db/client.js';
import { sqlState } from '../db/errors.js';
import { paymentsSummary, type Summary } from '../db/reports.js';
import type { Currency } from '../domain/money.js';
import { AppError } from './errors.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** PostgreSQL's query_canceled: here, the report's statement_timeout ran out. */
const QUERY_CANCELED = '57014';
/** Longer ranges belong to an export, not a request that holds an API process. */
export const MAX_RANGE_DAYS = 366;

export interface SummaryRequest {
  /** Default: 24 hours before `to`. */
  from?: string | undefined;
  /** Default: now. */
  to?: string | undefined;
  currency?: Currency | undefined;
}

export type SummaryReport = Summary & { from: string; to: string; currency: Currency | null };

export class ReportService {
  constructor(
    private readonly db: Executor,
    private readonly config: Pick<Config, 'reportStatementTimeoutMs'>,
  ) {}

  /** Payments and refunds created in [from, to): counts, volumes, success rate, time to settle. */
  async summary(tenantId: string, request: SummaryRequest): Promise<SummaryReport> {
    const to = request.to ? new Date(request.to) : new Date();
    const from = request.from ? new Date(request.from) : new Date(to.getTime() - DAY_MS);
    if (from >= to) throw new AppError('invalid_request', 'invalid_range', '`from` must be before `to`');
    if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY_MS)
      throw new AppError(
        'invalid_request',
        'range_too_long',
        `a report covers at most ${MAX_RANGE_DAYS} days`,
      );
    const timeoutMs = this.config.reportStatementTimeoutMs;
    const result = await paymentsSummary(
      this.db,
      { tenantId, from, to, currency: request.currency },
      timeoutMs,
    ).catch((error: unknown) => {
      if (sqlState(error) !== QUERY_CANCELED) throw error;
      throw new AppError(
        'unavailable',
        'report_timeout',
        `the report took longer than ${timeoutMs} ms; ask for a shorter range or one currency`,
        { retryAfterSeconds: 30 },
      );
    });
    return { from: from.toISOString(), to: to.toISOString(), currency: request.currency ?? null, ...result };
  }
}
