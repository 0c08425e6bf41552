import { describe, expect, it } from 'vitest';
import { createGatewayActivities } from '../../src/activities/gateway.js';
import { gatewayIdempotencyKey, paymentWorkflowId, refundWorkflowId } from '../../src/domain/ids.js';
import { gatewayIdempotencyKeyFor, MAX_GATEWAY_IDEMPOTENCY_KEY } from '../../src/gateway/idempotency-key.js';
import { fitLength } from '../../src/hash.js';
import type { Authorization, PaymentGateway } from '../../src/gateway/port.js';
import { ConnectorRegistry } from '../../src/gateway/registry.js';

const TENANT = `tenant-${'t'.repeat(57)}`; // 64 characters, the longest tenant a command may name
const ORDER = 'o'.repeat(200); // the longest order id the API and the commands accept

/** A connector that keeps the idempotency key of every write it is sent. */
function keyRecorder(): { connector: PaymentGateway; keys: string[] } {
  const keys: string[] = [];
  const authorization: Authorization = {
    id: 'auth_1',
    status: 'authorized',
    amount: 1,
    amountCaptured: 0,
    amountRefunded: 0,
    currency: 'USD',
  };
  const write = async (request: { idempotencyKey: string }) => {
    keys.push(request.idempotencyKey);
    return authorization;
  };
  return {
    keys,
    connector: {
      name: 'sandbox',
      authorize: write,
      capture: write,
      void: write,
      refund: async (request) => {
        keys.push(request.idempotencyKey);
        return { id: 're_1', authorizationId: 'auth_1', status: 'succeeded', amount: 1 };
      },
      status: async () => authorization,
      parseWebhook: () => {
        throw new Error('not used here');
      },
      ping: () => Promise.resolve(),
    },
  };
}

describe('gateway idempotency keys', () => {
  const payment = paymentWorkflowId(TENANT, ORDER);
  const refund = refundWorkflowId(TENANT, 'pay_0123456789abcdef01234567', 'k'.repeat(255));
  const steps = ['authorize', 'capture', 'void'].map((step) => gatewayIdempotencyKey(payment, step));
  const refundKey = gatewayIdempotencyKey(refund, 'card-refund');

  it('reach every connector at most 255 characters long, one per step, the same on every retry', async () => {
    expect([...steps, refundKey].every((key) => key.length > MAX_GATEWAY_IDEMPOTENCY_KEY)).toBe(true);
    const { connector, keys } = keyRecorder();
    const activities = createGatewayActivities(new ConnectorRegistry([connector], 'sandbox'));
    const route = { connector: 'sandbox', tenantId: TENANT };
    for (let attempt = 0; attempt < 2; attempt++) {
      await activities.authorizeCard({
        ...route,
        idempotencyKey: steps[0]!,
        token: 'tok_test_4242',
        amount: 1,
        currency: 'USD',
        reference: 'pay_1',
        capture: false,
      });
      await activities.captureCard({
        ...route,
        idempotencyKey: steps[1]!,
        authorizationId: 'auth_1',
        amount: 1,
      });
      await activities.voidCard({ ...route, idempotencyKey: steps[2]!, authorizationId: 'auth_1' });
      await activities.refundCard({
        ...route,
        idempotencyKey: refundKey,
        authorizationId: 'auth_1',
        amount: 1,
      });
    }
    expect(keys.every((key) => key.length <= MAX_GATEWAY_IDEMPOTENCY_KEY)).toBe(true);
    expect(new Set(keys.slice(0, 4)).size).toBe(4);
    expect(keys.slice(4)).toEqual(keys.slice(0, 4));
  });

  it('keeps a key that fits as it is, and keeps the start of one that does not', () => {
    const short = gatewayIdempotencyKey(paymentWorkflowId('default', 'ord_1'), 'authorize');
    expect(gatewayIdempotencyKeyFor(short)).toBe(short);
    const bounded = gatewayIdempotencyKeyFor(steps[0]!);
    expect(bounded).toHaveLength(MAX_GATEWAY_IDEMPOTENCY_KEY);
    expect(bounded.startsWith(`payment:${TENANT}:ooo`)).toBe(true);
    // Two long keys that differ only past the kept start stay apart.
    expect(gatewayIdempotencyKeyFor(`${steps[0]!}x`)).not.toBe(bounded);
  });
});

describe('fitLength', () => {
  it('keeps what fits, and cuts a longer value to its start and its hash, counting UTF-8 bytes', () => {
    expect(fitLength('evt_short', 255)).toBe('evt_short');
    const long = `evt_${'€'.repeat(200)}`;
    const fitted = fitLength(long, 255);
    expect(Buffer.byteLength(fitted)).toBeLessThanOrEqual(255);
    expect(fitted.startsWith('evt_€')).toBe(true);
    expect(fitLength(long, 255)).toBe(fitted);
    expect(fitLength(`${long}x`, 255)).not.toBe(fitted);
  });
});
