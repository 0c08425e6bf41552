import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ProblemError } from '../problem.js';

declare module 'fastify' {
  interface FastifyRequest {
    tenantId: string;
    isAdmin: boolean;
  }
  interface FastifyContextConfig {
    /** Routes open without an API key (health, docs, signed webhooks). */
    public?: boolean;
    admin?: boolean;
  }
}

export interface AuthOptions {
  apiKeys: Map<string, string>;
  adminKeys: Set<string>;
}

/** `Authorization: Bearer <key>`; each key belongs to one tenant, admin keys to none. */
export const authPlugin = fp(
  async (app: FastifyInstance, options: AuthOptions) => {
    app.decorateRequest('tenantId', '');
    app.decorateRequest('isAdmin', false);
    app.addHook('onRequest', async (request: FastifyRequest) => {
      const config = request.routeOptions.config;
      // Swagger UI and the OpenAPI document are public so a browser can open /docs.
      if (config.public || !request.routeOptions.url || request.routeOptions.url.startsWith('/docs')) return;
      const header = request.headers.authorization;
      const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
      if (!match)
        throw new ProblemError(
          401,
          'unauthorized',
          'send Authorization: Bearer <api key>',
          {},
          { 'WWW-Authenticate': 'Bearer' },
        );
      const key = match[1]!;
      if (config.admin) {
        if (!options.adminKeys.has(key))
          throw new ProblemError(403, 'forbidden', 'this route needs an admin key');
        request.isAdmin = true;
        return;
      }
      const tenant = options.apiKeys.get(key);
      if (!tenant)
        throw new ProblemError(401, 'unauthorized', 'unknown API key', {}, { 'WWW-Authenticate': 'Bearer' });
      request.tenantId = tenant;
    });
  },
  { name: 'auth', dependencies: ['errors'] },
);
