import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import { pino, type Logger, type LoggerOptions } from 'pino';
import { parsePaymentWorkflowId } from './domain/ids.js';
import { paymentIdFor } from './payment-id.js';

/**
 * What no log line may carry: credentials in headers, and any field named like a secret, a
 * card token or an email, wherever it is nested (pino's redaction works on paths, so the usual
 * nestings are listed). The connectors mask keys inside error messages themselves.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["stripe-signature"]',
  'req.headers["paysaga-signature"]',
  'req.headers.cookie',
  'headers.authorization',
  '*.apiKey',
  '*.secret',
  '*.webhookSecret',
  '*.token',
  '*.password',
  // An activity's task token lets whoever holds it complete the activity.
  'taskToken',
  '*.*.apiKey',
  '*.*.secret',
  '*.*.token',
  'method.token',
  '*.method.token',
  // A customer's email is personal data: no code path logs it, and a slip would print this.
  'email',
  '*.email',
  '*.*.email',
];

/**
 * A URL with the values of its secret query parameters replaced (customer tokens ride in
 * `access_token`, the return page's capability in `sig`).
 */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:access_token|token|key|sig)=)[^&#]*/gi, '$1[redacted]');
}

/** The pino options every Paysaga process logs with: JSON, ISO times, secrets redacted. */
export function loggerOptions(level: string, name: string): LoggerOptions {
  return {
    level,
    name,
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      // Fastify's request line without headers, and without secrets in the query string.
      req: (request: { method?: string; url?: string; hostname?: string; ip?: string; id?: string }) => ({
        method: request.method,
        url: request.url === undefined ? undefined : redactUrl(request.url),
        hostname: request.hostname,
        remoteAddress: request.ip,
      }),
    },
  };
}

export function createLogger(level: string, name: string): Logger {
  return pino(loggerOptions(level, name));
}

/**
 * The logger of a process's lifecycle lines (listening, polling, stopping), written whatever
 * LOG_LEVEL is: `npm run dev`, the tests and the supervisor wait for them.
 */
export function lifecycle(logger: Logger): Logger {
  return logger.child({}, { level: 'info' });
}

/**
 * The ids that tie a worker line to a payment: a payment's workflow id is
 * `payment:{tenant}:{orderId}`, so its tenant and payment id follow from it (the same way the
 * API derives them), without any lookup.
 */
export function paymentIdsOf(workflowId: unknown): { tenantId: string; paymentId: string } | undefined {
  const parsed = typeof workflowId === 'string' ? parsePaymentWorkflowId(workflowId) : undefined;
  return parsed && { tenantId: parsed.tenantId, paymentId: paymentIdFor(parsed.tenantId, parsed.orderId) };
}

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * The Temporal SDK's logger on pino: the worker's own lines, workflow and activity logs (which
 * the SDK tags with workflowId, workflowRunId, activityType, attempt...) and the core's
 * forwarded lines all come out as JSON, with the payment's tenant and id added when the workflow
 * is a payment.
 */
export function temporalLogger(logger: Logger): TemporalLogger {
  const write = (level: LogLevel, message: string, meta: LogMetadata = {}) => {
    const {
      workflowId,
      workflowRunId,
      runId,
      trace_id,
      span_id,
      trace_flags: _flags,
      ...rest
    } = meta as Record<string, unknown>;
    const fields: Record<string, unknown> = {
      ...rest,
      // An activity's failure: its message and type, not the {} an Error becomes as JSON.
      ...(rest.error instanceof Error ? { error: pino.stdSerializers.err(rest.error) } : {}),
      // The trace the API request started (src/tracing.ts), named as on the API's lines.
      ...(trace_id !== undefined ? { traceId: trace_id, spanId: span_id } : {}),
      ...(workflowId !== undefined ? { workflowId } : {}),
      ...(workflowRunId !== undefined || runId !== undefined ? { runId: workflowRunId ?? runId } : {}),
      ...paymentIdsOf(workflowId),
    };
    logger[LEVELS[level]](fields, message);
  };
  return {
    log: write,
    trace: (message, meta) => write('TRACE', message, meta),
    debug: (message, meta) => write('DEBUG', message, meta),
    info: (message, meta) => write('INFO', message, meta),
    warn: (message, meta) => write('WARN', message, meta),
    error: (message, meta) => write('ERROR', message, meta),
  };
}
