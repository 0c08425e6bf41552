/**
 * How each door passes on an application refusal (AppError): the HTTP API as a problem+json
 * status, the broker consumer as a dead letter (final) or a retry (the same message may succeed
 * later). Both decide from the kind alone.
 */
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { APP_ERROR_KINDS, AppError, type AppErrorKind } from '../../src/app/errors.js';
import type { PaymentUseCases } from '../../src/app/index.js';
import { errorsPlugin } from '../../src/api/plugins/errors.js';
import { CommandHandler } from '../../src/commands/handler.js';
import type { CommandMessage } from '../../src/commands/messages.js';

/** The status each kind answers with: the statuses and codes the API has always answered. */
const HTTP_STATUS: Record<AppErrorKind, number> = {
  invalid_request: 400,
  invalid: 422,
  not_found: 404,
  conflict: 409,
  declined: 402,
  forbidden: 403,
  limited: 429,
  unavailable: 503,
};

/** What the consumer does with a message whose command is refused with each kind. */
const BROKER_OUTCOME: Record<AppErrorKind, 'dead-letter' | 'retry'> = {
  invalid_request: 'dead-letter',
  invalid: 'dead-letter',
  not_found: 'dead-letter',
  conflict: 'dead-letter',
  declined: 'dead-letter',
  forbidden: 'dead-letter',
  limited: 'retry',
  unavailable: 'retry',
};

describe('the HTTP API maps each kind onto a problem+json status', () => {
  it.each(APP_ERROR_KINDS)('%s', async (kind) => {
    const app = Fastify({ logger: false });
    await app.register(errorsPlugin);
    app.get('/refused', () => {
      throw new AppError(kind, `some_${kind}`, 'the detail', {
        extensions: { dependency: 'temporal' },
        ...(kind === 'unavailable' ? { retryAfterSeconds: 7 } : {}),
      });
    });
    const res = await app.inject({ method: 'GET', url: '/refused' });
    await app.close();
    expect(res.statusCode).toBe(HTTP_STATUS[kind]);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toEqual({
      type: `https://paysaga.dev/problems/some-${kind.replaceAll('_', '-')}`,
      title: expect.any(String),
      status: HTTP_STATUS[kind],
      code: `some_${kind}`,
      detail: 'the detail',
      dependency: 'temporal',
    });
    expect(res.headers['retry-after']).toBe(kind === 'unavailable' ? '7' : undefined);
  });
});

const paymentCommand: CommandMessage = {
  type: 'payment.create',
  tenantId: 'default',
  orderId: 'ord_1',
  customerId: 'cus_1',
  amount: 100,
  currency: 'USD',
  method: { type: 'wallet' },
  capture: 'automatic',
};
const refundCommand: CommandMessage = {
  type: 'refund.create',
  tenantId: 'default',
  paymentId: 'pay_1',
  idempotencyKey: 'key_1',
};

/** A handler whose use cases refuse every command with `error`. */
function refusingHandler(error: Error): CommandHandler {
  const refuse = () => Promise.reject(error);
  const useCases = {
    payments: { create: refuse, findByOrder: () => Promise.resolve(undefined) },
    refunds: { create: refuse },
  };
  return new CommandHandler(
    useCases as unknown as Pick<PaymentUseCases, 'payments' | 'refunds' | 'checkoutSessions'>,
    new Set(['default']),
  );
}

describe('the broker consumer maps each kind onto a dead letter or a retry', () => {
  it.each(
    APP_ERROR_KINDS.flatMap((kind) => [paymentCommand, refundCommand].map((c) => [kind, c.type, c] as const)),
  )('%s (%s)', async (kind, _type, command) => {
    const refusal = new AppError(kind, `some_${kind}`, 'the detail');
    const handling = refusingHandler(refusal).handle(command, 'default');
    if (BROKER_OUTCOME[kind] === 'dead-letter')
      await expect(handling).resolves.toEqual({ kind: 'rejected', reason: `some_${kind}: the detail` });
    // Thrown to settleCommand, which holds the message through the outage (command-trust.test.ts).
    else await expect(handling).rejects.toBe(refusal);
  });

  it('retries what is not a refusal at all (a bug, a lost connection)', async () => {
    const failure = new TypeError('cannot read properties of undefined');
    await expect(refusingHandler(failure).handle(paymentCommand, 'default')).rejects.toBe(failure);
  });
});
