import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { AdminReach, Actor, TenantAdmin } from '../../app/tenant-admin.js';
import type { KeyScope } from '../../domain/tenants.js';
import type { IdentityDirectory } from '../../app/identity.js';
import type { CredentialCheck } from '../identify.js';
import { bindLog } from '../log-context.js';
import { ProblemError } from '../problem.js';

declare module 'fastify' {
  interface FastifyRequest {
    tenantId: string;
    isAdmin: boolean;
    /** On admin routes: every tenant (the operator) or one tenant (its identity provider's admins). */
    adminReach: AdminReach | undefined;
    /** What a tenant's credential may do (undefined for admins and customers). */
    scope: KeyScope | undefined;
    /** Who is calling, as the audit trail names them. */
    actor: Actor | undefined;
    /** Whether the request's credential still acts now (not revoked, expired or suspended since). */
    credentialActs: () => boolean;
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
    /** `true`: the operator's routes (admin keys, the platform tenant's admins); `tenant`: also a tenant's own admins, for their tenant. */
    admin?: boolean | 'tenant';
    /** Routes a customer token may use (each checks that the data is that customer's). */
    customer?: boolean;
    /** Routes a publishable key may use: what a browser page may do with a key it ships. */
    publishable?: boolean;
  }
}

export interface AuthOptions {
  credentials: CredentialCheck;
  identity: Pick<IdentityDirectory, 'checkKey' | 'checkKeyNow' | 'isActive'>;
  platformTenant: string;
  /** Where a revoked key's use is audited. */
  audit: Pick<TenantAdmin, 'recordRevokedUse'>;
}

const unauthorized = (detail: string) =>
  new ProblemError(401, 'unauthorized', detail, {}, { 'WWW-Authenticate': 'Bearer' });

const suspended = () => new ProblemError(403, 'tenant_suspended', 'this tenant is suspended');

/** Reads leave a read-only key's tenant as they found it. */
const READS = new Set(['GET', 'HEAD']);

/**
 * `Authorization: Bearer <credential>`:
 * - an API key belongs to one tenant (stored keys carry a scope: `full`, `read_only`, `publishable`);
 * - an admin key (ADMIN_API_KEYS) reaches the admin routes, for every tenant;
 * - Paysaga's customer token reads one customer's own data;
 * - a token from a tenant's own identity provider acts by its role: `customer` as that customer,
 *   `merchant` as the tenant, `admin` as the tenant's admin (the platform tenant's: every tenant's).
 * A revoked, expired or unknown credential is a 401; a suspended tenant's is a 403.
 */
export const authPlugin = fp(
  async (app: FastifyInstance, options: AuthOptions) => {
    app.decorateRequest('tenantId', '');
    app.decorateRequest('isAdmin', false);
    app.decorateRequest('adminReach', undefined);
    app.decorateRequest('scope', undefined);
    app.decorateRequest('actor', undefined);
    app.decorateRequest('credentialActs', () => true);
    app.decorateRequest('customerId', undefined);
    app.decorateRequest('customerToken', undefined);
    const from = (request: FastifyRequest) => ({
      ip: request.ip,
      ...(request.headers['user-agent'] ? { userAgent: request.headers['user-agent'] } : {}),
    });

    const actAsCustomer = (
      request: FastifyRequest,
      reply: FastifyReply,
      who: { tenantId: string; customerId: string; token: string; expiresAt: Date },
    ) => {
      if (!request.routeOptions.config.customer)
        throw new ProblemError(
          403,
          'forbidden_for_customer_token',
          "a customer token reads only its customer's payments, wallet, streams and customer record",
        );
      request.tenantId = who.tenantId;
      request.customerId = who.customerId;
      request.customerToken = { value: who.token, expiresAt: who.expiresAt };
      bindLog(request, reply, { tenantId: who.tenantId, customerId: who.customerId });
    };

    const actAsTenant = (request: FastifyRequest, reply: FastifyReply, tenantId: string, scope: KeyScope) => {
      const { config } = request.routeOptions;
      if (scope === 'read_only' && !READS.has(request.method))
        throw new ProblemError(403, 'forbidden_for_read_only_key', 'a read-only key only reads (GET)');
      if (scope === 'publishable' && !config.publishable)
        throw new ProblemError(
          403,
          'forbidden_for_publishable_key',
          'a publishable key only opens checkout pages; use a secret key on your server',
        );
      request.tenantId = tenantId;
      request.scope = scope;
      bindLog(request, reply, { tenantId });
    };

    app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      const { config } = request.routeOptions;
      // Swagger UI and the OpenAPI document are public so a browser can open /docs.
      if (config.public || !request.routeOptions.url || request.routeOptions.url.startsWith('/docs')) return;
      const credential = await options.credentials.of(request);
      switch (credential.kind) {
        case 'none':
          throw unauthorized('send Authorization: Bearer <api key>');
        case 'customer_token':
          if (!options.identity.isActive(credential.claims.tenantId)) throw suspended();
          request.credentialActs = () => options.identity.isActive(credential.claims.tenantId);
          return actAsCustomer(request, reply, { ...credential.claims, token: credential.token });
        case 'admin_key':
          if (!config.admin) throw unauthorized('unknown API key');
          request.isAdmin = true;
          request.adminReach = { platform: true };
          request.actor = { type: 'admin_key', id: credential.fingerprint.slice(0, 8), ...from(request) };
          return;
        case 'tenant_jwt': {
          const { verdict } = credential;
          if ('error' in verdict) {
            if (verdict.error === 'unavailable')
              throw new ProblemError(
                503,
                'identity_provider_unavailable',
                "the token's identity provider could not be reached to check it; retry shortly",
                {},
                { 'Retry-After': '5' },
              );
            throw unauthorized('invalid or expired token');
          }
          const identity = verdict.ok;
          request.credentialActs = () => options.identity.isActive(identity.tenantId);
          request.actor = {
            type: 'jwt',
            id: identity.subject,
            tenantId: identity.tenantId,
            ...from(request),
          };
          if (identity.role === 'customer')
            return actAsCustomer(request, reply, {
              tenantId: identity.tenantId,
              customerId: identity.customerId,
              token: credential.token,
              expiresAt: identity.expiresAt,
            });
          if (config.admin) {
            if (identity.role !== 'admin')
              throw new ProblemError(403, 'forbidden', 'this route needs an admin');
            const platform = identity.tenantId === options.platformTenant;
            // The operator's own routes (the ledger across tenants) are not a tenant's admin's.
            if (!platform && config.admin !== 'tenant')
              throw new ProblemError(403, 'forbidden', "this route is the platform's admins' only");
            request.isAdmin = true;
            request.adminReach = platform
              ? { platform: true }
              : { platform: false, tenantId: identity.tenantId };
            bindLog(request, reply, { tenantId: identity.tenantId });
            return;
          }
          return actAsTenant(request, reply, identity.tenantId, 'full');
        }
        case 'api_key': {
          // A key this process does not know may be a moment old: PostgreSQL decides (the rate
          // limit, which ran before, counted it as a request without a valid key).
          const check =
            credential.check.status === 'unknown'
              ? await options.identity.checkKeyNow(credential.secret)
              : credential.check;
          if (config.admin && check.status !== 'unknown')
            throw new ProblemError(403, 'forbidden', 'this route needs an admin key');
          switch (check.status) {
            case 'unknown':
              throw config.admin
                ? new ProblemError(403, 'forbidden', 'this route needs an admin key')
                : unauthorized('unknown API key');
            case 'revoked':
              // Someone still holds a revoked key: the audit trail says who tried, and from where.
              options.audit
                .recordRevokedUse(check.keyId, check.tenantId, from(request))
                .catch((error: unknown) => request.log.warn({ err: error }, 'could not audit a revoked key'));
              throw unauthorized('this API key was revoked');
            case 'expired':
              throw unauthorized('this API key expired (it was rolled)');
            case 'suspended':
              throw suspended();
            case 'ok':
              request.actor = {
                type: 'api_key',
                id: check.keyId ?? credential.fingerprint.slice(0, 8),
                tenantId: check.tenantId,
                ...from(request),
              };
              request.credentialActs = () => options.identity.checkKey(credential.secret).status === 'ok';
              return actAsTenant(request, reply, check.tenantId, check.scope);
          }
        }
      }
    });
    // A payment's routes name it: its id goes on every line of the request.
    app.addHook('preHandler', async (request, reply) => {
      const id = (request.params as Record<string, unknown> | undefined)?.id;
      if (typeof id === 'string' && id.startsWith('pay_')) bindLog(request, reply, { paymentId: id });
    });
  },
  { name: 'auth', dependencies: ['errors'] },
);
