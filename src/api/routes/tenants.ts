import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Actor, AdminReach } from '../../app/tenant-admin.js';
import { AUDIT_ACTIONS } from '../../app/tenant-admin.js';
import {
  KEY_MODES,
  KEY_SCOPES,
  MAX_ROLL_OVERLAP_SECONDS,
  TENANT_STATUSES,
  tenantId,
  tenantSettings,
  tenantSettingsPatch,
} from '../../domain/tenants.js';
import { storableText } from '../../domain/text.js';
import { errorResponses } from '../schemas.js';

const tenant = z
  .object({
    id: z.string(),
    name: z.string(),
    status: z.enum(TENANT_STATUSES),
    settings: tenantSettings,
    source: z
      .enum(['database', 'environment'])
      .describe(
        '`environment`: named by API_KEYS and friends and not changed since; its first change stores it',
      ),
    createdAt: z.string().optional(),
    updatedAt: z.string().optional(),
  })
  .meta({ id: 'Tenant' });

const apiKey = z
  .object({
    id: z.string(),
    tenantId: z.string(),
    scope: z.enum(KEY_SCOPES),
    mode: z.enum(KEY_MODES),
    prefix: z.string().describe("The secret's first characters, to tell keys apart"),
    createdAt: z.string(),
    expiresAt: z.string().optional().describe('A rolled key works until then'),
    revokedAt: z.string().optional(),
    rolledFrom: z.string().optional(),
  })
  .meta({ id: 'ApiKey' });

const newApiKey = apiKey
  .extend({ secret: z.string().describe('Shown this once: Paysaga keeps only its SHA-256') })
  .meta({ id: 'NewApiKey' });

const auditRecord = z
  .object({
    id: z.string(),
    at: z.string(),
    action: z.string(),
    tenantId: z.string().optional(),
    target: z.object({ type: z.string(), id: z.string() }),
    actor: z.object({
      type: z.string().describe("`admin_key`, `jwt` (an identity provider's subject) or `api_key`"),
      id: z.string(),
    }),
    ip: z.string().optional(),
    userAgent: z.string().optional(),
    details: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'AuditRecord' });

const tenantParams = z.strictObject({ tenantId });
const keyParams = z.strictObject({
  tenantId,
  keyId: z.string().regex(/^key_[0-9a-f]{24}$/, 'an API key id'),
});
/** Tenants' own admins reach these routes too, for their own tenant. */
const admin = { admin: 'tenant' } as const;
const tags = ['admin'];

/** Who is calling and what they reach; set by the auth hook on every admin route. */
function caller(request: FastifyRequest): { actor: Actor; reach: AdminReach } {
  const { actor, adminReach } = request;
  if (!actor || !adminReach) throw new Error('an admin route ran without an admin');
  return { actor, reach: adminReach };
}

/**
 * Tenants, their API keys and the audit trail (src/app/tenant-admin.ts). An admin key or the
 * platform tenant's admin tokens reach every tenant; a tenant's own admin tokens reach that tenant.
 * Never idempotent-replayed: a key's secret must not rest in the idempotency records.
 */
export const tenantRoutes: FastifyPluginAsyncZod = async (app) => {
  const { tenantAdmin } = app.services;

  app.post(
    '/v1/admin/tenants',
    {
      config: admin,
      schema: {
        summary: 'Create a tenant',
        description:
          'Settings left out come from the environment (DEFAULT_CONNECTOR, RATE_LIMIT_MAX). The connector and routing must be ones the tenant has accounts on. Every API process knows the tenant within a second.',
        tags,
        body: z.strictObject({
          id: tenantId,
          name: storableText(200).min(1),
          status: z.enum(TENANT_STATUSES).optional(),
          settings: tenantSettings.optional(),
        }),
        response: { 201: tenant, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { actor, reach } = caller(request);
      return reply.status(201).send(await tenantAdmin.createTenant(actor, reach, request.body));
    },
  );

  app.get(
    '/v1/admin/tenants',
    {
      config: admin,
      schema: {
        summary: 'Every tenant',
        tags,
        response: { 200: z.object({ data: z.array(tenant) }), ...errorResponses },
      },
    },
    async (request) => ({ data: await tenantAdmin.listTenants(caller(request).reach) }),
  );

  app.get(
    '/v1/admin/tenants/:tenantId',
    {
      config: admin,
      schema: {
        summary: 'A tenant',
        tags,
        params: tenantParams,
        response: { 200: tenant, ...errorResponses },
      },
    },
    async (request) => tenantAdmin.getTenant(caller(request).reach, request.params.tenantId),
  );

  app.patch(
    '/v1/admin/tenants/:tenantId',
    {
      config: admin,
      schema: {
        summary: "Change a tenant's name, status or settings",
        description:
          "Each settings field given replaces the stored one; `null` removes it (the environment's applies again). `suspended` stops every key and token of the tenant at once. A tenant's own admins change neither its status nor its identity provider.",
        tags,
        params: tenantParams,
        body: z.strictObject({
          name: storableText(200).min(1).optional(),
          status: z.enum(TENANT_STATUSES).optional(),
          settings: tenantSettingsPatch.optional(),
        }),
        response: { 200: tenant, ...errorResponses },
      },
    },
    async (request) => {
      const { actor, reach } = caller(request);
      return tenantAdmin.updateTenant(actor, reach, request.params.tenantId, request.body);
    },
  );

  app.post(
    '/v1/admin/tenants/:tenantId/api-keys',
    {
      config: admin,
      schema: {
        summary: 'Create an API key',
        description:
          '`full` (`sk_`), `read_only` (`rk_`: GET only) or `publishable` (`pk_`: opens checkout pages, what a browser page may hold). The secret is in this answer only.',
        tags,
        params: tenantParams,
        body: z
          .strictObject({ scope: z.enum(KEY_SCOPES).optional(), mode: z.enum(KEY_MODES).optional() })
          .nullish(),
        response: { 201: newApiKey, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { actor, reach } = caller(request);
      const created = await tenantAdmin.createKey(actor, reach, request.params.tenantId, request.body ?? {});
      return reply.status(201).header('Cache-Control', 'no-store').send(created);
    },
  );

  app.get(
    '/v1/admin/tenants/:tenantId/api-keys',
    {
      config: admin,
      schema: {
        summary: "A tenant's API keys (never their secrets)",
        tags,
        params: tenantParams,
        response: { 200: z.object({ data: z.array(apiKey) }), ...errorResponses },
      },
    },
    async (request) => ({ data: await tenantAdmin.listKeys(caller(request).reach, request.params.tenantId) }),
  );

  app.post(
    '/v1/admin/tenants/:tenantId/api-keys/:keyId/roll',
    {
      config: admin,
      schema: {
        summary: 'Roll an API key: a new secret, the old one working until `expiresInSeconds` from now',
        tags,
        params: keyParams,
        body: z
          .strictObject({ expiresInSeconds: z.int().min(0).max(MAX_ROLL_OVERLAP_SECONDS).optional() })
          .nullish(),
        response: { 201: newApiKey.extend({ previous: apiKey }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { actor, reach } = caller(request);
      const { tenantId: id, keyId } = request.params;
      const rolled = await tenantAdmin.rollKey(
        actor,
        reach,
        id,
        keyId,
        request.body?.expiresInSeconds ?? 3600,
      );
      return reply.status(201).header('Cache-Control', 'no-store').send(rolled);
    },
  );

  app.delete(
    '/v1/admin/tenants/:tenantId/api-keys/:keyId',
    {
      config: admin,
      schema: {
        summary: 'Revoke an API key: refused on every API process within a second',
        tags,
        params: keyParams,
        response: { 200: apiKey, ...errorResponses },
      },
    },
    async (request) => {
      const { actor, reach } = caller(request);
      return tenantAdmin.revokeKey(actor, reach, request.params.tenantId, request.params.keyId);
    },
  );

  app.get(
    '/v1/admin/audit',
    {
      config: admin,
      schema: {
        summary: 'The audit trail: every admin change and key event, newest first',
        tags,
        querystring: z.strictObject({
          tenantId: tenantId.optional(),
          action: z.enum(AUDIT_ACTIONS).optional(),
          limit: z.coerce.number().int().min(1).max(100).default(50),
          startingAfter: z.string().max(100).optional(),
        }),
        response: {
          200: z.object({
            data: z.array(auditRecord),
            hasMore: z.boolean(),
            nextCursor: z.string().optional(),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => tenantAdmin.audit(caller(request).reach, request.query),
  );
};
