import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { createGatewayActivities } from '../../src/activities/gateway.js';
import { loadConfig } from '../../src/config.js';
import { ErrorType } from '../../src/domain/errors.js';
import { SandboxConnector } from '../../src/gateway/connectors/sandbox/connector.js';
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
    expect(() => createConnectorRegistry(loadConfig({ DEFAULT_CONNECTOR: 'stripe' }))).toThrow(
      UnknownConnectorError,
    );
    expect(() => new ConnectorRegistry([fakeConnector('a'), fakeConnector('a')], 'a')).toThrow(/twice/);
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
