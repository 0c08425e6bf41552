import { readFileSync } from 'node:fs';
import { describe, expect, inject, it } from 'vitest';
import { projectPath } from '../../tools/stack/stack.js';
import { api, topUp, uid, type PaymentBody } from '../support/http.js';

/** One Prometheus sample's value: the metric with all of `labels` (others may be present). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([key, value]) => have[key] === value)) total += Number(match[3]);
  }
  return total;
}

const scrape = async (url: string) => {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
  return response.text();
};
const apiMetrics = () => scrape(`${inject('apiUrl')}/metrics`);
const workerMetrics = () => scrape(inject('workerMetricsUrl'));

const card = (token: string): PaymentBody => ({
  orderId: uid('ord'),
  customerId: uid('cus'),
  amount: 4200,
  currency: 'USD',
  method: { type: 'card', token },
});

describe('Prometheus metrics', () => {
  it('count a payment, a decline and a refund, their time to settled and their gateway calls', async () => {
    // Funded before the count starts (a top-up charges a card too).
    const walletCustomer = uid('cus');
    await topUp(walletCustomer, 1500);
    const [apiBefore, workerBefore] = await Promise.all([apiMetrics(), workerMetrics()]);

    const paid = await api('POST', '/v1/payments', card('tok_test_4242'));
    expect(paid.body.status).toBe('succeeded');
    const declined = await api('POST', '/v1/payments', card('tok_test_0000'));
    expect(declined.body.status).toBe('requires_payment_method');
    // A wallet payment captured at once is written in one step; it is counted all the same.
    const fromWallet = await api('POST', '/v1/payments', {
      orderId: uid('ord'),
      customerId: walletCustomer,
      amount: 1500,
      currency: 'USD',
      method: { type: 'wallet' },
    });
    expect(fromWallet.body.status).toBe('succeeded');
    const refund = await api('POST', `/v1/payments/${paid.body.id}/refunds`, { amount: 1000 });
    expect(refund.body.status).toBe('succeeded');

    // A replayed Idempotency-Key and one reused with another request.
    const key = uid('idem');
    const body = card('tok_test_4242');
    await api('POST', '/v1/payments', body, { headers: { 'idempotency-key': key } });
    const replayed = await api('POST', '/v1/payments', body, { headers: { 'idempotency-key': key } });
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    const reused = await api('POST', '/v1/payments', card('tok_test_4242'), {
      headers: { 'idempotency-key': key },
    });
    expect(reused.status).toBe(422);

    await expect
      .poll(async () => sample(await workerMetrics(), 'paysaga_refunds_total', { status: 'succeeded' }))
      .toBe(sample(workerBefore, 'paysaga_refunds_total', { status: 'succeeded' }) + 1);
    const [apiAfter, workerAfter] = await Promise.all([apiMetrics(), workerMetrics()]);
    const delta = (before: string, after: string, name: string, labels: Record<string, string> = {}) =>
      sample(after, name, labels) - sample(before, name, labels);
    const worker = (name: string, labels: Record<string, string> = {}) =>
      delta(workerBefore, workerAfter, name, labels);
    const apiSide = (name: string, labels: Record<string, string> = {}) =>
      delta(apiBefore, apiAfter, name, labels);

    // Two card payments succeeded (one plain, one with a key), one was declined; the refund is counted
    // by paysaga_refunds_total (above).
    expect(worker('paysaga_payments_total', { status: 'succeeded', method: 'card' })).toBe(2);
    expect(worker('paysaga_payments_total', { status: 'requires_payment_method', method: 'card' })).toBe(1);
    expect(worker('paysaga_payments_total', { status: 'succeeded', method: 'wallet' })).toBe(1);
    expect(
      worker('paysaga_payment_time_to_settled_seconds_count', { status: 'succeeded', method: 'wallet' }),
    ).toBe(1);
    expect(
      worker('paysaga_payment_time_to_settled_seconds_count', { status: 'succeeded', method: 'card' }),
    ).toBe(2);
    expect(
      worker('paysaga_payment_time_to_settled_seconds_count', {
        status: 'requires_payment_method',
        method: 'card',
      }),
    ).toBe(1);
    expect(worker('paysaga_payment_time_to_settled_seconds_sum', { status: 'succeeded' })).toBeGreaterThan(0);
    expect(
      worker('paysaga_gateway_requests_total', {
        connector: 'sandbox',
        operation: 'authorizeCard',
        outcome: 'ok',
      }),
    ).toBe(2);
    expect(
      worker('paysaga_gateway_requests_total', {
        connector: 'sandbox',
        operation: 'authorizeCard',
        outcome: 'declined',
      }),
    ).toBe(1);
    expect(
      worker('paysaga_gateway_requests_total', {
        connector: 'sandbox',
        operation: 'refundCard',
        outcome: 'ok',
      }),
    ).toBe(1);
    // Card payments captured at once are sales: each is one authorizeCard call, timed, and no capture.
    expect(
      worker('paysaga_gateway_request_duration_seconds_count', {
        connector: 'sandbox',
        operation: 'authorizeCard',
      }),
    ).toBe(3);
    expect(
      worker('paysaga_gateway_request_duration_seconds_count', {
        connector: 'sandbox',
        operation: 'captureCard',
      }),
    ).toBe(0);

    expect(
      apiSide('paysaga_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/v1/payments',
        status_code: '200',
      }),
    ).toBe(5);
    expect(
      apiSide('paysaga_http_request_duration_seconds_count', {
        route: '/v1/payments/:id/refunds',
        status_code: '200',
      }),
    ).toBe(1);
    expect(apiSide('paysaga_idempotency_replays_total', { route: '/v1/payments' })).toBe(1);
    expect(apiSide('paysaga_idempotency_conflicts_total', { route: '/v1/payments', reason: 'reused' })).toBe(
      1,
    );
  });

  it("the worker's endpoint also serves the Temporal SDK's own metrics", async () => {
    const text = await workerMetrics();
    expect(text).toMatch(/^temporal_\w+/m);
    expect(sample(text, 'temporal_workflow_completed')).toBeGreaterThan(0);
    expect(text).toMatch(/^paysaga_worker_process_cpu_seconds_total/m);
  });
});

describe('event relay lag', () => {
  it("the worker serves each sink's lag and backlog, read from the outbox", async () => {
    const text = await workerMetrics();
    const sinks = [
      'webhooks',
      ...(inject('kafkaBrokers') ? ['kafka'] : []),
      ...(inject('amqpUrl') ? ['amqp'] : []),
    ];
    for (const sink of sinks) {
      for (const name of ['paysaga_event_relay_lag_seconds', 'paysaga_event_relay_backlog'])
        expect(text, `${name} of ${sink}`).toMatch(
          new RegExp(`^${name}\\{[^}]*sink="${sink}"[^}]*\\} \\d`, 'm'),
        );
    }
  });
});

describe('the Grafana dashboard', () => {
  it('charts only metrics the api and the worker serve', async () => {
    const dashboard = JSON.parse(
      readFileSync(projectPath('ops', 'grafana', 'dashboards', 'paysaga.json'), 'utf8'),
    ) as {
      panels: { targets: { expr: string }[] }[];
    };
    const exprs = dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr));
    const names = new Set(exprs.flatMap((expr) => expr.match(/\b(paysaga|temporal)_\w+/g) ?? []));
    expect(names.size).toBeGreaterThan(8);
    const served = `${await apiMetrics()}\n${await workerMetrics()}`;
    for (const name of names) expect(served, name).toMatch(new RegExp(`^${name}[{ ]`, 'm'));
  });
});
