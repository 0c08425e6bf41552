import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bindLog } from '../log-context.js';
import fp from 'fastify-plugin';
import { looksLikeJwt, type CustomerTokens } from '../customer-tokens.js';
import { ProblemError } from '../problem.js';

declare module 'fastify' {
  interface FastifyRequest {
    tenantId: string;
    isAdmin: boolean;
    /** Set when the request came with a customer token: it may read only this customer's data. */
    customerId: string | undefined;
    /** The customer token itself and when it expires: a stream opened with it ends then. */
    customerToken: { value: string; expiresAt: Date } | undefined;
  }
  interface FastifyContextConfig {
    /** Routes open without an API key (health, docs, signed webhooks). */
    public?: boolean;
    /** A customer's page (checkout, return, payment link): public, rate-limited per address. */
    page?: boolean;
    admin?: boolean;
    /** Routes a customer token may use (each checks that the data is that customer's). */
    customer?: boolean;
  }
}

export interface AuthOptions {
  apiKeys: Map<string, string>;
  adminKeys: Set<string>;
  customerTokens: CustomerTokens;
}

/** `Authorization: Bearer <key>`; each key belongs to one tenant, admin keys to none. */
export const authPlugin = fp(
  async (app: FastifyInstance, options: AuthOptions) => {
    app.decorateRequest('tenantId', '');
    app.decorateRequest('isAdmin', false);
    app.decorateRequest('customerId', undefined);
    app.decorateRequest('customerToken', undefined);
    app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      const config = request.routeOptions.config;
      // Swagger UI and the OpenAPI document are public so a browser can open /docs.
      if (config.public || !request.routeOptions.url || request.routeOptions.url.startsWith('/docs')) return;
      const header = request.headers.authorization;
      // A browser's EventSource or WebSocket cannot set headers: customer tokens may come in the URL.
      const queryToken = (request.query as Record<string, unknown> | undefined)?.access_token;
      const key =
        (header ? /^Bearer\s+(\S+)$/i.exec(header)?.[1] : undefined) ??
        (config.customer && typeof queryToken === 'string' && looksLikeJwt(queryToken)
          ? queryToken
          : undefined);
      if (!key)
        throw new ProblemError(
          401,
          'unauthorized',
          'send Authorization: Bearer <api key>',
          {},
          { 'WWW-Authenticate': 'Bearer' },
        );
      if (looksLikeJwt(key)) {
        const claims = await options.customerTokens.verify(key);
        if (!claims)
          throw new ProblemError(
            401,
            'unauthorized',
            'invalid or expired customer token',
            {},
            { 'WWW-Authenticate': 'Bearer' },
          );
        if (!config.customer)
          throw new ProblemError(
            403,
            'forbidden_for_customer_token',
            "a customer token reads only its customer's payments, wallet, streams and customer record",
          );
        request.tenantId = claims.tenantId;
        request.customerId = claims.customerId;
        request.customerToken = { value: key, expiresAt: claims.expiresAt };
        bindLog(request, reply, { tenantId: claims.tenantId, customerId: claims.customerId });
        return;
      }
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
      bindLog(request, reply, { tenantId: tenant });
    });
    // A payment's routes name it: its id goes on every line of the request.
    app.addHook('preHandler', async (request, reply) => {
      const id = (request.params as Record<string, unknown> | undefined)?.id;
      if (typeof id === 'string' && id.startsWith('pay_')) bindLog(request, reply, { paymentId: id });
    });
  },
  { name: 'auth', dependencies: ['errors'] },
);
