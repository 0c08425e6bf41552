import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { projectPath } from '../../tools/stack/stack.js';
import { secretsIn } from '../support/log-scan.js';
import { api, uid } from '../support/http.js';

/** The JSON lines one process of the test stack wrote so far. */
/** The process's JSON lines; in a co-located stack (`app`), the lines it wrote under that name. */
function linesOf(process: 'api' | 'worker'): Record<string, unknown>[] {
  const prefix = `[${process}] `;
  const colocated = '[app] ';
  return readFileSync(projectPath('.tmp', 'test-stack.log'), 'utf8')
    .split('\n')
    .flatMap((line) => {
      const [from] = [prefix, colocated].filter((p) => line.startsWith(p) && line[p.length] === '{');
      if (!from) return [];
      const parsed = JSON.parse(line.slice(from.length)) as Record<string, unknown>;
      return from === prefix || parsed.name === process ? [parsed] : [];
    });
}

describe('logs', () => {
  it('follow one payment across the api and the worker by its payment, workflow and run ids', async () => {
    const paid = await api('POST', '/v1/payments', {
      orderId: uid('ord'),
      customerId: uid('cus'),
      amount: 1500,
      currency: 'USD',
      method: { type: 'card', token: 'tok_test_4242' },
    });
    expect(paid.body.status).toBe('succeeded');
    await api('GET', `/v1/payments/${paid.body.id}`);
    const paymentId = paid.body.id;

    // The create (payment answered, request completed) and the read (request completed); the
    // processes' output reaches the log file a moment later.
    await expect
      .poll(() => linesOf('api').filter((line) => line.paymentId === paymentId).length)
      .toBeGreaterThanOrEqual(3);
    const apiLines = linesOf('api').filter((line) => line.paymentId === paymentId);
    // The create's lines and the read's completion line (the read binds it once the payment is loaded).
    for (const line of apiLines)
      expect(line).toMatchObject({
        tenantId: 'default',
        reqId: expect.any(String),
        workflowId: expect.stringMatching(/^payment:default:/),
      });
    const answered = apiLines.find((line) => line.msg === 'payment answered');
    expect(answered).toMatchObject({
      workflowId: expect.stringMatching(/^payment:default:/),
      runId: expect.any(String),
    });

    await expect
      .poll(
        () =>
          linesOf('worker').filter((line) => line.paymentId === paymentId && line.msg === 'payment recorded')
            .length,
      )
      .toBeGreaterThanOrEqual(2);
    const workerLines = linesOf('worker').filter((line) => line.paymentId === paymentId);
    for (const line of workerLines)
      expect(line).toMatchObject({
        tenantId: 'default',
        workflowId: answered?.workflowId,
        runId: answered?.runId,
        activityType: expect.any(String),
      });
    expect(workerLines.map((line) => line.status)).toEqual(
      expect.arrayContaining(['processing', 'succeeded']),
    );
    // A task token lets its holder complete the activity: never logged.
    expect(workerLines.every((line) => line.taskToken === '[redacted]' || line.taskToken === undefined)).toBe(
      true,
    );
  });

  it("carry the caller's trace id from the HTTP request into the workflow's activities", async () => {
    const traceId = randomBytes(16).toString('hex');
    const paid = await api(
      'POST',
      '/v1/payments',
      {
        orderId: uid('ord'),
        customerId: uid('cus'),
        amount: 1500,
        currency: 'USD',
        method: { type: 'card', token: 'tok_test_4242' },
      },
      { headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` } },
    );
    expect(paid.body.status).toBe('succeeded');
    // The API continues the caller's trace and says so.
    expect(paid.headers.get('traceparent')).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    const paymentId = paid.body.id;
    await expect
      .poll(
        () =>
          linesOf('api').filter((line) => line.paymentId === paymentId && line.traceId === traceId).length,
      )
      .toBeGreaterThanOrEqual(2);
    // Through the workflow's start into each activity it runs.
    await expect
      .poll(() =>
        linesOf('worker').filter((line) => line.paymentId === paymentId && line.msg === 'payment recorded'),
      )
      .toHaveLength(2);
    for (const line of linesOf('worker').filter(
      (l) => l.paymentId === paymentId && l.msg === 'payment recorded',
    ))
      expect(line.traceId).toBe(traceId);
  });

  it('carry no key, secret, card token or customer token (so far in this run; teardown checks the whole run)', async () => {
    // A customer token in a stream URL is a secret too: it must not reach the request line.
    const token = await api('POST', '/v1/customer-tokens', { customerId: uid('cus') });
    expect(token.status).toBe(201);
    await api(
      'GET',
      `/v1/payments/pay_unknown000000000000000000/stream?access_token=${token.body.token}`,
      undefined,
      { key: null },
    );
    const log = readFileSync(projectPath('.tmp', 'test-stack.log'), 'utf8');
    expect(log).toContain('access_token=[redacted]');
    expect(secretsIn(log)).toEqual([]);
  });
});
