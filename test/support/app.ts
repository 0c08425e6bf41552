import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app.js';
import { CustomerTokens } from '../../src/api/customer-tokens.js';
import { TenantJwtVerifier } from '../../src/api/tenant-jwt.js';
import { IdentityDirectory } from '../../src/app/identity.js';
import type { Services } from '../../src/api/plugins/services.js';
import { DEV_API_KEY, loadConfig } from '../../src/config.js';
import { TENANT_KEYS } from './tenants.js';

/**
 * The real app (plugins, schemas, auth, idempotency, error handler) over services that must
 * not be reached: every call is recorded and fails. What a test sends is answered at the door,
 * or the test sees the call.
 */
export async function appWithUnreachableServices(
  env: Record<string, string> = {},
): Promise<{ app: FastifyInstance; reached: string[] }> {
  const reached: string[] = [];
  const unreachable = (name: string): any =>
    new Proxy(() => undefined, {
      get: (_target, prop) => (prop === 'then' ? undefined : unreachable(`${name}.${String(prop)}`)),
      apply: () => {
        reached.push(name);
        throw new Error(`${name} was reached`);
      },
    });
  const config = loadConfig({ API_KEYS: `${DEV_API_KEY}:default,${TENANT_KEYS.badinput}:badinput`, ...env });
  const services = { ...(unreachable('services') as Services), config };
  for (const name of [
    'temporal',
    'payments',
    'refunds',
    'wallets',
    'timeline',
    'reports',
    'gatewayWebhooks',
    'readiness',
    'streams',
    'idempotencyKeys',
    'webhookEndpoints',
    'customers',
    'ledger',
  ] as const satisfies readonly (keyof Services)[])
    (services as Record<string, unknown>)[name] = unreachable(name);
  services.customerTokens = new CustomerTokens(config.customerTokenSecret);
  services.identity = new IdentityDirectory(undefined, config);
  services.tenantJwt = new TenantJwtVerifier();
  const app = await buildApp({ config, services, logger: false });
  await app.ready();
  return { app, reached };
}
