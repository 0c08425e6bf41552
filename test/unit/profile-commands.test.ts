/**
 * The consumer's handling of a profile's source, its use cases and broker replaced by recorders:
 * which tenant a message acts for, when a message is a duplicate, when a result is published again.
 */
import { describe, expect, it } from 'vitest';
import { CommandHandler, type CommandOrigin, type CommandOutcome } from '../../src/commands/handler.js';
import type { CommandMessage } from '../../src/commands/messages.js';
import { settleCommand, type ProcessDeps, type ProfileSources } from '../../src/commands/process.js';
import { compileProfile, type Inbound } from '../../src/profiles/profile.js';

const profile = compileProfile(
  {
    profile: 'shop',
    version: 1,
    defaults: { currency: 'EUR' },
    inbound: [
      {
        name: 'order-paid',
        source: { kafka: { topic: 'shop.orders' } },
        command: 'payment.create',
        idempotencyKey: 'eventId',
        onDuplicate: 'republish',
        attempts: 'single',
        // A mapping that tries to choose its tenant: the binding's stands.
        map: '{ "tenantId": "someone-else", "orderId": $string(orderId), "customerId": "c1", "amount": $minor(total), "currency": "EUR", "method": { "type": "wallet" } }',
      },
    ],
  },
  'shop-tenant',
  'test',
);
const inbound = profile.inbound[0]!;

function harness(outcome: CommandOutcome = { kind: 'started', resource: 'pay_1' }) {
  const handled: { message: CommandMessage; tenantId: string; origin?: CommandOrigin | undefined }[] = [];
  const seen = new Map<string, string>();
  const republished: string[] = [];
  const deadLetters: string[] = [];
  const profiles: ProfileSources = {
    inboundFor: (broker, source) => (broker === 'kafka' && source === 'shop.orders' ? inbound : undefined),
    seen: async (_inbound: Inbound, key) => seen.get(key),
    record: async (_inbound, key, resource) => void seen.set(key, resource),
    republish: async (_inbound, paymentId) => void republished.push(paymentId),
  };
  const deps: ProcessDeps = {
    handler: {
      handle: async (message, tenantId, origin) => {
        handled.push({ message, tenantId, origin });
        return outcome;
      },
    },
    trust: { secrets: new Map(), tenantSources: new Map(), toleranceSec: 300, defaultTenant: 'default' },
    profiles,
    dependenciesUp: async () => true,
    maxAttempts: 2,
    log: () => undefined,
    signal: new AbortController().signal,
    backoff: { initialMs: 1, maxMs: 1 },
  };
  const settle = (body: string) =>
    settleCommand(
      { body, source: 'shop.orders', broker: 'kafka' },
      async (reason) => void deadLetters.push(reason),
      deps,
    );
  return { settle, handled, republished, deadLetters };
}

describe("a profile's inbound binding", () => {
  it("acts for the binding's tenant whatever the message or its mapping says, unsigned", async () => {
    const { settle, handled } = harness();
    expect(await settle('{ "eventId": "e1", "orderId": 7, "total": 12.5, "tenantId": "default" }')).toBe(
      'started',
    );
    expect(handled).toEqual([
      {
        tenantId: 'shop-tenant',
        origin: { profile: 'shop', singleAttempt: true },
        message: expect.objectContaining({
          type: 'payment.create',
          tenantId: 'shop-tenant',
          orderId: '7',
          amount: 1250,
        }),
      },
    ]);
  });

  it('does not start a message seen before, and publishes the result again as the binding asks', async () => {
    const { settle, handled, republished } = harness();
    await settle('{ "eventId": "e1", "orderId": 7, "total": 12.5 }');
    expect(republished).toEqual([]);
    await settle('{ "eventId": "e1", "orderId": 7, "total": 12.5 }');
    expect(handled).toHaveLength(1);
    expect(republished).toEqual(['pay_1']);
  });

  it('publishes again when a new message names an order whose payment has ended', async () => {
    const { settle, republished } = harness({ kind: 'started', resource: 'pay_2', ended: true });
    await settle('{ "eventId": "e9", "orderId": 8, "total": 1 }');
    expect(republished).toEqual(['pay_2']);
  });

  it('dead-letters what it cannot map or what maps to an invalid command, with the reason', async () => {
    const { settle, handled, deadLetters } = harness();
    await settle('{ "eventId": "e2", "orderId": 7, "total": "twelve" }');
    await settle('{ "eventId": "e3", "orderId": 7, "total": 0 }');
    await settle('{ "orderId": 7, "total": 1 }');
    expect(handled).toEqual([]);
    expect(deadLetters).toEqual([
      expect.stringMatching(/^unmappable: .*"twelve" is not a decimal amount/),
      expect.stringMatching(/^the payment.create it maps to is invalid: amount: amount must be positive/),
      expect.stringMatching(/^unmappable: order-paid: the message has no idempotency key/),
    ]);
  });
});

describe('the command handler, for republishing', () => {
  const request = {
    type: 'payment.create' as const,
    tenantId: 't',
    orderId: 'o1',
    customerId: 'c1',
    amount: 100,
    currency: 'EUR' as const,
    method: { type: 'wallet' as const },
    capture: 'automatic' as const,
  };
  const handlerWith = (before: { status: string } | undefined) =>
    new CommandHandler(
      {
        payments: {
          findByOrder: async () => before,
          create: async () => ({ payment: { id: 'pay_1', status: 'succeeded' }, pending: false }),
        },
      } as unknown as ConstructorParameters<typeof CommandHandler>[0],
      new Set(['t']),
    );

  it('says the order had ended only when its payment had ended before the message, not when this one ended it at once', async () => {
    expect(await handlerWith(undefined).handle(request, 't')).toEqual({
      kind: 'started',
      resource: 'pay_1',
      ended: false,
    });
    expect(await handlerWith({ status: 'processing' }).handle(request, 't')).toMatchObject({ ended: false });
    expect(await handlerWith({ status: 'succeeded' }).handle(request, 't')).toMatchObject({ ended: true });
  });
});
