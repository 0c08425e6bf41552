import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { createApplication, type Application, type ApplicationDeps } from '../../app/index.js';
import { CustomerTokens } from '../customer-tokens.js';
import { TenantJwtVerifier } from '../tenant-jwt.js';

/** The application's use cases, and what only the HTTP door has. */
export interface Services extends Application {
  customerTokens: CustomerTokens;
  /** Tokens of tenants' own identity providers. */
  tenantJwt: TenantJwtVerifier;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}

/** The API's services over PostgreSQL and Temporal; tests may hand the app their own. */
export function createServices(deps: ApplicationDeps): Services {
  return {
    ...createApplication(deps),
    customerTokens: new CustomerTokens(deps.config.customerTokenSecret),
    tenantJwt: new TenantJwtVerifier({ cooldownMs: deps.config.jwksCooldownMs }),
  };
}

export const servicesPlugin = fp(
  async (app: FastifyInstance, { services }: { services: Services }) => {
    app.decorate('services', services);
  },
  { name: 'services' },
);
