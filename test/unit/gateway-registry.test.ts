import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { createGatewayActivities } from '../../src/activities/gateway.js';
import { loadConfig } from '../../src/config.js';
import { ErrorType } from '../../src/domain/errors.js';
import { SandboxConnector } from '../../src/gateway/connectors/sandbox/connector.js';
import { StripeConnector } from '../../src/gateway/connectors/stripe/connector.js';
import { GatewayRequestError, GatewayUnavailableError } from '../../src/gateway/errors.js';
import type { Authorization, PaymentGateway } from '../../src/gateway/port.js';
import {
  ConnectorRegistry,
  createConnectorRegistry,
  UnknownConnectorError,
} from '../../src/gateway/registry.js';

/** A connector that answers status() with its own name, or throws what it is told to. */
function fakeConnector(name: string, fail?: Error): PaymentGateway {
  const status = async (id: string): Promise<Authorization> => {
    if (fail) throw fail;
    return { id, status: 'authorized', amount: 1, amountCaptured: 0, amountRefunded: 0, currency: 'USD' };
  };
  const unused = () => Promise.reject(new Error(`${name}: not used here`));
  return {
    name,
    status,
    authorize: unused,
    capture: unused,
    void: unused,
    refund: unused,
    parseWebhook: () => {
      throw new Error('not used here');
    },
    ping: () => Promise.resolve(),
  };
}

describe('connector registry', () => {
  it('builds the sandbox connector from the configuration and resolves it by name', () => {
    const registry = createConnectorRegistry(loadConfig({}));
    expect(registry.names()).toEqual(['sandbox']);
    expect(registry.defaultName).toBe('sandbox');
    expect(registry.get('sandbox')).toBeInstanceOf(SandboxConnector);
    expect(registry.find('sandbox')).toBe(registry.get('sandbox'));
  });

  it('refuses an unknown name with a clear error', () => {
    const registry = createConnectorRegistry(loadConfig({}));
    expect(registry.find('nope')).toBeUndefined();
    expect(() => registry.get('nope')).toThrow(UnknownConnectorError);
    expect(() => registry.get('nope')).toThrow(
      'no payment connector named "nope" is configured (configured: sandbox)',
    );
  });

  it('refuses a DEFAULT_CONNECTOR it does not configure, and a name configured twice', () => {
    expect(() => createConnectorRegistry(loadConfig({ DEFAULT_CONNECTOR: 'adyen' }))).toThrow(
      UnknownConnectorError,
    );
    expect(() => new ConnectorRegistry([fakeConnector('a'), fakeConnector('a')], 'a')).toThrow(/twice/);
  });
});

describe('connectors per tenant', () => {
  const env = {
    API_KEYS: 'sk_a:alpha,sk_b:beta,sk_c:gamma',
    TENANT_CONNECTORS: 'alpha:stripe,beta:stripe',
    STRIPE_API_KEY: 'sk_test_shared',
    STRIPE_WEBHOOK_SECRET: 'whsec_shared',
    STRIPE_API_KEY__ALPHA: 'sk_test_alpha',
    STRIPE_WEBHOOK_SECRET__ALPHA: 'whsec_alpha',
  };

  it('gives each tenant its connector and its own account on it, else the shared one', () => {
    const registry = createConnectorRegistry(loadConfig(env));
    expect(registry.names().sort()).toEqual(['sandbox', 'stripe']);
    expect(['alpha', 'beta', 'gamma'].map((t) => registry.connectorFor(t))).toEqual([
      'stripe',
      'stripe',
      'sandbox',
    ]);
    const alpha = registry.get('stripe', 'alpha');
    const beta = registry.get('stripe', 'beta');
    expect(alpha).toBeInstanceOf(StripeConnector);
    expect(beta).toBeInstanceOf(StripeConnector);
    expect(alpha).not.toBe(beta);
    // A tenant without its own account, and a task that names no tenant, use the shared one.
    expect(registry.get('stripe', 'gamma')).toBe(beta);
    expect(registry.get('stripe')).toBe(beta);
    // Every tenant on the sandbox shares it.
    expect(registry.get('sandbox', 'alpha')).toBe(registry.get('sandbox', 'gamma'));
  });

  it("lists each account with the tenants it serves, so a webhook moves only those tenants' payments", () => {
    const accounts = createConnectorRegistry(loadConfig(env)).accounts('stripe');
    expect(accounts).toHaveLength(2);
    const serving = accounts.map((account) => ['alpha', 'beta', 'gamma'].filter((t) => account.serves(t)));
    expect(serving).toEqual([['alpha'], ['beta', 'gamma']]);
  });

  it('refuses a tenant on stripe without credentials, naming the settings but never a value', () => {
    const config = () => loadConfig({ ...env, STRIPE_API_KEY: undefined, STRIPE_WEBHOOK_SECRET: undefined });
    expect(config).toThrow(
      'tenant beta uses the stripe connector, but neither STRIPE_API_KEY__BETA nor STRIPE_API_KEY is set',
    );
    expect(() => loadConfig({ ...env, STRIPE_WEBHOOK_SECRET__ALPHA: undefined })).toThrow(
      'STRIPE_API_KEY__ALPHA and STRIPE_WEBHOOK_SECRET__ALPHA are set together or not at all',
    );
    const error = (() => {
      try {
        loadConfig({ ...env, STRIPE_WEBHOOK_SECRET: undefined });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toMatch(/STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET/);
    expect(error?.message).not.toContain('sk_test_shared');
  });

  it('refuses a tenant routed to a connector that does not exist', () => {
    expect(() => createConnectorRegistry(loadConfig({ ...env, TENANT_CONNECTORS: 'alpha:adyen' }))).toThrow(
      UnknownConnectorError,
    );
  });
});

describe('gateway activities', () => {
  const registry = new ConnectorRegistry(
    [
      fakeConnector('one'),
      fakeConnector('refusing', new GatewayRequestError('invalid_state', 'no', 409)),
      fakeConnector('down', new GatewayUnavailableError('503', 503)),
    ],
    'one',
  );
  const activities = createGatewayActivities(registry);

  it('route each call to the connector its request names', async () => {
    await expect(
      activities.getAuthorization({ connector: 'one', authorizationId: 'a1' }),
    ).resolves.toMatchObject({
      id: 'a1',
    });
  });

  it('turn a refusal and an unknown connector into non-retryable failures, and let faults retry', async () => {
    const refused = await activities
      .getAuthorization({ connector: 'refusing', authorizationId: 'a1' })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApplicationFailure);
    expect(refused).toMatchObject({ type: ErrorType.GatewayRequestError, nonRetryable: true });

    const unknown = await activities
      .getAuthorization({ connector: 'nope', authorizationId: 'a1' })
      .catch((e: unknown) => e);
    expect(unknown).toMatchObject({ type: ErrorType.UnknownConnector, nonRetryable: true });

    const down = await activities
      .getAuthorization({ connector: 'down', authorizationId: 'a1' })
      .catch((e: unknown) => e);
    expect(down).toBeInstanceOf(GatewayUnavailableError);
  });
});

describe('voidCard activity', () => {
  const withVoid = (voidError: Error, current: Authorization['status']) => {
    const connector: PaymentGateway = {
      ...fakeConnector('sandbox'),
      void: () => Promise.reject(voidError),
      status: async (id) => ({
        id,
        status: current,
        amount: 1,
        amountCaptured: 0,
        amountRefunded: 0,
        currency: 'USD',
      }),
    };
    return createGatewayActivities(new ConnectorRegistry([connector], 'sandbox'));
  };
  const request = { connector: 'sandbox', idempotencyKey: 'k', authorizationId: 'auth_1' };

  it('treats a refused void of a declined or voided authorization as done: nothing is held', async () => {
    for (const status of ['declined', 'voided'] as const) {
      const refused = new GatewayRequestError('invalid_state', 'Cannot void', 409);
      await expect(withVoid(refused, status).voidCard(request)).resolves.toMatchObject({ status });
    }
  });

  it('still refuses when the authorization holds money, and lets transient faults retry', async () => {
    const refused = new GatewayRequestError('invalid_state', 'Cannot void', 409);
    const failure = await withVoid(refused, 'captured')
      .voidCard(request)
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect((failure as ApplicationFailure).type).toBe(ErrorType.GatewayRequestError);
    const down = new GatewayUnavailableError('gateway answered 503', 503);
    await expect(withVoid(down, 'declined').voidCard(request)).rejects.toBe(down);
  });
});
