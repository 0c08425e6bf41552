/**
 * Whose a broker command is (signed, or from a source bound to one tenant), and how long the
 * consumer keeps trying one that fails: held through an outage, dead-lettered when it alone fails.
 */
import { describe, expect, it, vi } from 'vitest';
import { AppError } from '../../src/app/errors.js';
import { settleCommand, type ProcessDeps } from '../../src/commands/process.js';
import { authenticate, type CommandDelivery, type CommandTrust } from '../../src/commands/trust.js';
import { signWebhook } from '../../src/gateway/webhook-signature.js';

const now = 1_790_000_000;
const trust: CommandTrust = {
  secrets: new Map([
    ['default', ['cmdsec_default_current', 'cmdsec_default_previous']],
    ['other', ['cmdsec_other_tenant_1']],
  ]),
  tenantSources: new Map([['orders.acme', 'acme']]),
  toleranceSec: 3600,
  defaultTenant: 'default',
};

const wallet = (tenantId?: string) =>
  JSON.stringify({
    type: 'payment.create',
    ...(tenantId ? { tenantId } : {}),
    orderId: 'ord_1',
    customerId: 'cus_1',
    amount: 100,
    currency: 'USD',
    method: { type: 'wallet' },
  });
const signed = (body: string, secret: string, at = now): CommandDelivery => ({
  body,
  signature: signWebhook(secret, body, at),
  source: 'paysaga.commands',
});

describe('command authentication', () => {
  it('takes a command signed with a secret of the tenant it names, either secret during a rotation', () => {
    for (const secret of ['cmdsec_default_current', 'cmdsec_default_previous'])
      expect(authenticate(trust, signed(wallet('default'), secret), 'default', now)).toEqual({
        ok: true,
        tenantId: 'default',
      });
    // Naming no tenant: the default one, still signed.
    expect(authenticate(trust, signed(wallet(), 'cmdsec_default_current'), undefined, now)).toEqual({
      ok: true,
      tenantId: 'default',
    });
  });

  it.each([
    ['no signature', { body: wallet('default'), source: 'paysaga.commands' }, 'default', /missing_header/],
    [
      "another tenant's secret (acting for a tenant it is not)",
      signed(wallet('other'), 'cmdsec_default_current'),
      'other',
      /signature_mismatch \(tenant "other"\)/,
    ],
    [
      'a body changed after signing',
      {
        ...signed(wallet('default'), 'cmdsec_default_current'),
        body: wallet('default').replace('100', '9999'),
      },
      'default',
      /signature_mismatch/,
    ],
    [
      'a signature older than the tolerance (a replay)',
      signed(wallet('default'), 'cmdsec_default_current', now - 3601),
      'default',
      /timestamp_out_of_tolerance/,
    ],
    [
      'a tenant with no command secret',
      signed(wallet('acme'), 'cmdsec_default_current'),
      'acme',
      /tenant "acme" has no command secret/,
    ],
    [
      'a tenantId naming someone else on a source bound to one tenant',
      { body: wallet('default'), source: 'orders.acme' },
      'default',
      /tenantId "default" on orders\.acme, which is bound to tenant "acme"/,
    ],
  ])('refuses %s', (_name, delivery, claimed, reason) => {
    const result = authenticate(trust, delivery, claimed, now);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/^unauthenticated: /);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  it('takes every message of a source bound to a tenant as that tenant, without a signature', () => {
    expect(authenticate(trust, { body: '{}', source: 'orders.acme' }, undefined, now)).toEqual({
      ok: true,
      tenantId: 'acme',
    });
    expect(authenticate(trust, { body: '{}', source: 'orders.acme' }, 'acme', now)).toEqual({
      ok: true,
      tenantId: 'acme',
    });
  });
});

describe('settling a command', () => {
  const body = wallet('default');
  const delivery = (): CommandDelivery =>
    signed(body, 'cmdsec_default_current', Math.floor(Date.now() / 1000));
  const harness = (handle: ProcessDeps['handler']['handle'], up: boolean, stopAfter = Infinity) => {
    const stopping = new AbortController();
    const deadLetters: string[] = [];
    let calls = 0;
    const deps: ProcessDeps = {
      handler: {
        handle: (...args) => {
          if (++calls >= stopAfter) stopping.abort();
          return handle(...args);
        },
      },
      trust,
      dependenciesUp: vi.fn(async () => up),
      maxAttempts: 3,
      log: () => undefined,
      signal: stopping.signal,
      backoff: { initialMs: 1, maxMs: 2 },
    };
    const settle = () => settleCommand(delivery(), async (reason) => void deadLetters.push(reason), deps);
    return { deps, deadLetters, settle, calls: () => calls };
  };

  it('dead-letters an unauthenticated command without starting anything', async () => {
    const handle = vi.fn();
    const { deps, deadLetters } = harness(handle, true);
    const unsigned = { body, source: 'paysaga.commands' };
    expect(await settleCommand(unsigned, async (reason) => void deadLetters.push(reason), deps)).toBe(
      'dead-lettered',
    );
    expect(deadLetters).toEqual(['unauthenticated: missing_header (tenant "default")']);
    expect(handle).not.toHaveBeenCalled();
  });

  it('starts a signed command as its tenant', async () => {
    const handle = vi.fn(async () => ({ kind: 'started' as const, resource: 'pay_1' }));
    const { settle } = harness(handle, true);
    expect(await settle()).toBe('started');
    expect(handle).toHaveBeenCalledWith(expect.objectContaining({ orderId: 'ord_1' }), 'default');
  });

  it('dead-letters a command that keeps failing on its own after maxAttempts, with the error', async () => {
    const { settle, deadLetters, calls, deps } = harness(async () => {
      throw new TypeError('cannot read properties of undefined');
    }, true);
    expect(await settle()).toBe('dead-lettered');
    expect(calls()).toBe(3);
    expect(deps.dependenciesUp).toHaveBeenCalledTimes(1);
    expect(deadLetters).toEqual([
      'failed 3 times with PostgreSQL and Temporal up: cannot read properties of undefined',
    ]);
  });

  it('holds a command through an outage however many attempts fail, and dead-letters nothing', async () => {
    // Unrecognised failures while a probe finds a dependency down: still an outage.
    const down = harness(
      async () => {
        throw new Error('something odd');
      },
      false,
      50,
    );
    expect(await down.settle()).toBe('stopped');
    expect(down.calls()).toBe(50);
    expect(down.deadLetters).toEqual([]);
    // Failures that say so themselves hold the message even while the probe answers.
    for (const failure of [
      new AppError('unavailable', 'service_unavailable', 'a dependency (temporal) is not reachable'),
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
    ]) {
      const outage = harness(
        async () => {
          throw failure;
        },
        true,
        50,
      );
      expect(await outage.settle()).toBe('stopped');
      expect(outage.deadLetters).toEqual([]);
      expect(outage.deps.dependenciesUp).not.toHaveBeenCalled();
    }
  });
});
