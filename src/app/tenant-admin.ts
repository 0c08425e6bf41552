import { randomBytes, randomInt } from 'node:crypto';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import {
  findApiKey,
  findTenantRow,
  insertApiKey,
  insertAudit,
  insertTenant,
  listApiKeys,
  listAudit,
  listTenantRows,
  notifyIdentityChanged,
  revokeApiKey,
  setKeyExpiry,
  updateTenant,
  type ApiKeyRow,
  type AuditRow,
} from '../db/identity.js';
import { EVENT_SOURCE, type CloudEvent } from '../domain/events.js';
import {
  keyPrefix,
  MAX_ROLL_OVERLAP_SECONDS,
  patchedSettings,
  settingsProblem,
  type ApiKey,
  type KeyMode,
  type KeyScope,
  type Tenant,
  type TenantSettings,
  type TenantSettingsPatch,
  type TenantStatus,
} from '../domain/tenants.js';
import type { ConnectorRegistry } from '../gateway/registry.js';
import { AppError } from './errors.js';
import { envSettingsOf, envTenant, secretHash, tenantOfRow, type IdentityDirectory } from './identity.js';

type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];

/** Who did something, and from where: what every audit record says. */
export interface Actor {
  /** `admin_key`: an ADMIN_API_KEYS key (its id is the first 8 hex of its SHA-256); `jwt`: an identity provider's subject; `api_key`: a stored key. */
  type: 'admin_key' | 'jwt' | 'api_key';
  id: string;
  /** The tenant whose identity provider or key it is; none for the operator's admin keys. */
  tenantId?: string | undefined;
  ip?: string | undefined;
  userAgent?: string | undefined;
}

/** What an admin may manage: every tenant (the operator), or its own tenant only. */
export type AdminReach = { platform: true } | { platform: false; tenantId: string };

export const AUDIT_ACTIONS = [
  'tenant.created',
  'tenant.updated',
  'api_key.created',
  'api_key.rolled',
  'api_key.revoked',
  'api_key.used_after_revocation',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditRecord {
  id: string;
  at: string;
  action: string;
  tenantId?: string | undefined;
  target: { type: string; id: string };
  actor: { type: string; id: string };
  ip?: string | undefined;
  userAgent?: string | undefined;
  details: Record<string, unknown>;
}

/** An API key as created: the one time its secret is shown. */
export type NewApiKey = ApiKey & { secret: string };

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `length` characters of base62, each uniformly random. */
function base62(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += BASE62[randomInt(62)];
  return out;
}

/** 32 base62 characters: 190 random bits. */
const SECRET_LENGTH = 32;
/** How much of a secret lists show: its kind, mode and 4 random characters. */
const SHOWN_RANDOM_CHARACTERS = 4;

function apiKeyOf(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    tenantId: row.tenantId,
    scope: row.scope,
    mode: row.mode,
    prefix: row.prefix,
    createdAt: row.createdAt.toISOString(),
    ...(row.expiresAt ? { expiresAt: row.expiresAt.toISOString() } : {}),
    ...(row.revokedAt ? { revokedAt: row.revokedAt.toISOString() } : {}),
    ...(row.rolledFrom ? { rolledFrom: row.rolledFrom } : {}),
  };
}

function auditRecordOf(row: AuditRow): AuditRecord {
  return {
    id: row.id,
    at: row.at.toISOString(),
    action: row.action,
    ...(row.tenantId !== null ? { tenantId: row.tenantId } : {}),
    target: { type: row.targetType, id: row.targetId },
    actor: { type: row.actorType, id: row.actorId },
    ...(row.ip !== null ? { ip: row.ip } : {}),
    ...(row.userAgent !== null ? { userAgent: row.userAgent } : {}),
    details: row.details as Record<string, unknown>,
  };
}

/** The cursor of an audit page: the last record's sequence number. */
function auditCursor(seq: number): string {
  return Buffer.from(`audit:${seq}`).toString('base64url');
}

function parseAuditCursor(cursor: string): number {
  const match = /^audit:(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match?.[1])
    throw new AppError('invalid_request', 'invalid_cursor', 'startingAfter is not a cursor of this list');
  return Number(match[1]);
}

/**
 * The admin API's use cases: tenants, their API keys and the audit trail. Every change is one
 * transaction that writes the change, its audit record, its event on the outbox (on the platform
 * tenant's sinks) and the notice that makes every API process reload (IdentityDirectory).
 */
export class TenantAdmin {
  /** When each key's use after revocation was last audited, so a client retrying in a loop is one record a minute. */
  readonly #revokedUseAudited = new Map<string, number>();

  constructor(
    private readonly db: Database,
    private readonly directory: IdentityDirectory,
    private readonly connectors: Pick<ConnectorRegistry, 'connectorProblem' | 'routingProblem'>,
    private readonly config: Pick<
      Config,
      'platformTenant' | 'envTenants' | 'apiKeys' | 'tenantConnectors' | 'routing'
    > & {
      rateLimit: Pick<Config['rateLimit'], 'perTenant'>;
    },
  ) {}

  assertReaches(reach: AdminReach, tenantId: string): void {
    if (!reach.platform && reach.tenantId !== tenantId)
      throw new AppError('not_found', 'tenant_not_found', `no tenant ${tenantId}`);
  }

  async createTenant(
    actor: Actor,
    reach: AdminReach,
    input: {
      id: string;
      name: string;
      status?: TenantStatus | undefined;
      settings?: TenantSettings | undefined;
    },
  ): Promise<Tenant> {
    if (!reach.platform)
      throw new AppError('forbidden', 'forbidden', "only the platform's admins create tenants");
    if (this.config.envTenants.has(input.id))
      throw new AppError('conflict', 'tenant_exists', `tenant ${input.id} exists (from the environment)`);
    const settings = input.settings ?? {};
    this.assertUsable(input.id, settings);
    return this.#change(async (tx) => {
      const row = await insertTenant(tx, {
        id: input.id,
        name: input.name,
        status: input.status ?? 'active',
        settings,
      });
      if (!row) throw new AppError('conflict', 'tenant_exists', `tenant ${input.id} exists`);
      const tenant = tenantOfRow(row);
      await this.#audit(
        tx,
        actor,
        'tenant.created',
        input.id,
        { type: 'tenant', id: input.id },
        {
          name: tenant.name,
          status: tenant.status,
          settings: Object.keys(settings),
        },
      );
      await notifyIdentityChanged(tx, `tenant:${input.id}`);
      return tenant;
    });
  }

  /** Every tenant, stored or of the environment, by id; a tenant's own admins see their own. */
  async listTenants(reach: AdminReach): Promise<Tenant[]> {
    if (!reach.platform) return [await this.getTenant(reach, reach.tenantId)];
    const stored = (await listTenantRows(this.db)).map((row) =>
      tenantOfRow(row, envSettingsOf(this.config, row.id)),
    );
    const ids = new Set(stored.map((t) => t.id));
    const fromEnv = [...this.config.envTenants]
      .filter((id) => !ids.has(id))
      .map((id) => envTenant(this.config, id));
    return [...stored, ...fromEnv].sort((a, b) => a.id.localeCompare(b.id));
  }

  /** The tenant as stored now (not as this process last loaded it), or as the environment names it. */
  async getTenant(reach: AdminReach, id: string): Promise<Tenant> {
    this.assertReaches(reach, id);
    const row = await findTenantRow(this.db, id);
    if (row) return tenantOfRow(row, envSettingsOf(this.config, id));
    if (this.config.envTenants.has(id)) return envTenant(this.config, id);
    throw new AppError('not_found', 'tenant_not_found', `no tenant ${id}`);
  }

  async updateTenant(
    actor: Actor,
    reach: AdminReach,
    id: string,
    patch: {
      name?: string | undefined;
      status?: TenantStatus | undefined;
      settings?: TenantSettingsPatch | undefined;
    },
  ): Promise<Tenant> {
    this.assertReaches(reach, id);
    if (
      !reach.platform &&
      (patch.status !== undefined ||
        patch.settings?.jwt !== undefined ||
        patch.settings?.rateLimit !== undefined)
    )
      throw new AppError(
        'forbidden',
        'forbidden',
        "a tenant's own admins change neither its status, its rate limit nor its identity provider",
      );
    return this.#change(async (tx) => {
      // Held until the change commits: two changes at once apply one after the other, and
      // neither writes back what it read before the other (a suspension stays).
      let row = await findTenantRow(tx, id, { forUpdate: true });
      if (!row) {
        if (!this.config.envTenants.has(id))
          throw new AppError('not_found', 'tenant_not_found', `no tenant ${id}`);
        // A tenant of the environment is stored at its first change: what the change sets wins.
        row = await insertTenant(tx, { id, name: id, status: 'active', settings: {} });
        row ??= await findTenantRow(tx, id, { forUpdate: true });
        if (!row) throw new AppError('conflict', 'tenant_changed', 'the tenant changed meanwhile; retry');
      }
      const stored = tenantOfRow(row);
      const settings = patch.settings ? patchedSettings(stored.settings, patch.settings) : stored.settings;
      this.assertUsable(id, settings);
      const updated = await updateTenant(tx, id, {
        name: patch.name ?? stored.name,
        status: patch.status ?? stored.status,
        settings,
      });
      if (!updated) throw new AppError('not_found', 'tenant_not_found', `no tenant ${id}`);
      const changed = [
        ...(patch.name !== undefined ? ['name'] : []),
        ...(patch.status !== undefined ? ['status'] : []),
        ...Object.keys(patch.settings ?? {}).map((field) => `settings.${field}`),
      ];
      await this.#audit(
        tx,
        actor,
        'tenant.updated',
        id,
        { type: 'tenant', id },
        {
          changed,
          ...(patch.status !== undefined ? { status: patch.status } : {}),
        },
      );
      await notifyIdentityChanged(tx, `tenant:${id}`);
      return tenantOfRow(updated, envSettingsOf(this.config, id));
    });
  }

  async createKey(
    actor: Actor,
    reach: AdminReach,
    tenantId: string,
    input: { scope?: KeyScope | undefined; mode?: KeyMode | undefined },
  ): Promise<NewApiKey> {
    await this.getTenant(reach, tenantId);
    return this.#change(async (tx) => {
      const created = await this.#newKey(tx, tenantId, input.scope ?? 'full', input.mode ?? 'test');
      await this.#audit(
        tx,
        actor,
        'api_key.created',
        tenantId,
        { type: 'api_key', id: created.id },
        {
          scope: created.scope,
          mode: created.mode,
          prefix: created.prefix,
        },
      );
      await notifyIdentityChanged(tx, `key:${created.id}`);
      return created;
    });
  }

  async listKeys(reach: AdminReach, tenantId: string): Promise<ApiKey[]> {
    await this.getTenant(reach, tenantId);
    return (await listApiKeys(this.db, tenantId)).map(apiKeyOf);
  }

  /**
   * A new key in place of `keyId`, with its scope and mode; the old one keeps working for
   * `expiresInSeconds` (0: it stops now), so a deployment can switch over without a failed call.
   */
  async rollKey(
    actor: Actor,
    reach: AdminReach,
    tenantId: string,
    keyId: string,
    expiresInSeconds: number,
  ): Promise<NewApiKey & { previous: ApiKey }> {
    this.assertReaches(reach, tenantId);
    if (
      !Number.isInteger(expiresInSeconds) ||
      expiresInSeconds < 0 ||
      expiresInSeconds > MAX_ROLL_OVERLAP_SECONDS
    )
      throw new AppError('invalid', 'invalid_expiry', `expiresInSeconds is 0 to ${MAX_ROLL_OVERLAP_SECONDS}`);
    return this.#change(async (tx) => {
      const old = await findApiKey(tx, tenantId, keyId);
      if (!old) throw new AppError('not_found', 'api_key_not_found', `no API key ${keyId}`);
      const now = Date.now();
      if (old.revokedAt || (old.expiresAt && old.expiresAt.getTime() <= now))
        throw new AppError('conflict', 'api_key_inactive', `API key ${keyId} is revoked or expired`);
      const until = new Date(now + expiresInSeconds * 1000);
      const expiresAt = old.expiresAt && old.expiresAt < until ? old.expiresAt : until;
      const previous = await setKeyExpiry(tx, old.id, expiresAt);
      if (!previous) throw new AppError('not_found', 'api_key_not_found', `no API key ${keyId}`);
      const created = await this.#newKey(tx, tenantId, old.scope, old.mode, old.id);
      await this.#audit(
        tx,
        actor,
        'api_key.rolled',
        tenantId,
        { type: 'api_key', id: old.id },
        {
          newKeyId: created.id,
          prefix: created.prefix,
          expiresAt: expiresAt.toISOString(),
        },
      );
      await notifyIdentityChanged(tx, `key:${old.id}`);
      return { ...created, previous: apiKeyOf(previous) };
    });
  }

  /** Stops the key at once, on every API process (their directories reload on the notice). */
  async revokeKey(actor: Actor, reach: AdminReach, tenantId: string, keyId: string): Promise<ApiKey> {
    this.assertReaches(reach, tenantId);
    return this.#change(async (tx) => {
      const key = await findApiKey(tx, tenantId, keyId);
      if (!key) throw new AppError('not_found', 'api_key_not_found', `no API key ${keyId}`);
      if (key.revokedAt) return apiKeyOf(key);
      const revoked = await revokeApiKey(tx, key.id);
      if (!revoked) throw new AppError('not_found', 'api_key_not_found', `no API key ${keyId}`);
      await this.#audit(
        tx,
        actor,
        'api_key.revoked',
        tenantId,
        { type: 'api_key', id: key.id },
        {
          prefix: key.prefix,
        },
      );
      await notifyIdentityChanged(tx, `key:${key.id}`);
      return apiKeyOf(revoked);
    });
  }

  /** A revoked key was presented: audited once a minute per key and process at most. */
  async recordRevokedUse(
    keyId: string,
    tenantId: string,
    from: { ip?: string; userAgent?: string },
  ): Promise<void> {
    const now = Date.now();
    if ((this.#revokedUseAudited.get(keyId) ?? 0) > now - 60_000) return;
    this.#revokedUseAudited.set(keyId, now);
    await this.db.transaction((tx) =>
      this.#audit(
        tx,
        { type: 'api_key', id: keyId, tenantId, ...from },
        'api_key.used_after_revocation',
        tenantId,
        { type: 'api_key', id: keyId },
        {},
      ),
    );
  }

  async audit(
    reach: AdminReach,
    query: {
      tenantId?: string | undefined;
      action?: string | undefined;
      limit: number;
      startingAfter?: string | undefined;
    },
  ): Promise<{ data: AuditRecord[]; hasMore: boolean; nextCursor?: string | undefined }> {
    const tenantId = reach.platform ? query.tenantId : reach.tenantId;
    if (!reach.platform && query.tenantId !== undefined) this.assertReaches(reach, query.tenantId);
    const rows = await listAudit(this.db, {
      tenantId,
      action: query.action,
      limit: query.limit + 1,
      beforeSeq: query.startingAfter !== undefined ? parseAuditCursor(query.startingAfter) : undefined,
    });
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    const hasMore = rows.length > query.limit;
    return {
      data: page.map(auditRecordOf),
      hasMore,
      ...(hasMore && last ? { nextCursor: auditCursor(last.seq) } : {}),
    };
  }

  /** A tenant's connector and rules must be ones it has accounts on; its identity provider its own. */
  assertUsable(tenantId: string, settings: TenantSettings): void {
    const problem =
      settingsProblem(settings) ??
      (settings.connector !== undefined
        ? this.connectors.connectorProblem(tenantId, settings.connector)
        : undefined) ??
      (settings.routing ? this.connectors.routingProblem(tenantId, settings.routing) : undefined);
    if (problem) throw new AppError('invalid', 'invalid_tenant_settings', problem);
    const jwt = settings.jwt;
    if (!jwt) return;
    const audiences = new Set([jwt.audience].flat());
    for (const other of this.directory.jwtTenants(jwt.issuer))
      if (other.tenantId !== tenantId && [other.jwt.audience].flat().some((a) => audiences.has(a)))
        throw new AppError(
          'conflict',
          'jwt_issuer_taken',
          `tenant ${other.tenantId} already accepts this issuer's tokens for that audience`,
        );
  }

  /**
   * One change in one transaction; this process then reloads before it answers, so the caller's
   * next request here sees the change (other processes reload on the notice).
   */
  async #change<T>(write: (tx: Transaction) => Promise<T>): Promise<T> {
    const result = await this.db.transaction(write);
    await this.directory.reload();
    return result;
  }

  async #newKey(
    tx: Transaction,
    tenantId: string,
    scope: KeyScope,
    mode: KeyMode,
    rolledFrom?: string,
  ): Promise<NewApiKey> {
    const secret = `${keyPrefix(scope, mode)}${base62(SECRET_LENGTH)}`;
    const row = await insertApiKey(tx, {
      id: `key_${randomBytes(12).toString('hex')}`,
      tenantId,
      scope,
      mode,
      prefix: secret.slice(0, keyPrefix(scope, mode).length + SHOWN_RANDOM_CHARACTERS),
      secretHash: secretHash(secret),
      rolledFrom: rolledFrom ?? null,
    });
    return { ...apiKeyOf(row), secret };
  }

  async #audit(
    tx: Transaction,
    actor: Actor,
    action: AuditAction,
    tenantId: string,
    target: { type: string; id: string },
    details: Record<string, unknown>,
  ): Promise<void> {
    const id = `aud_${randomBytes(12).toString('hex')}`;
    const at = new Date();
    const record: AuditRecord = {
      id,
      at: at.toISOString(),
      action,
      tenantId,
      target,
      actor: { type: actor.type, id: actor.id },
      ...(actor.ip !== undefined ? { ip: actor.ip } : {}),
      ...(actor.userAgent !== undefined ? { userAgent: actor.userAgent } : {}),
      details,
    };
    const event: CloudEvent<AuditRecord> = {
      specversion: '1.0',
      id: `audit:${id}`,
      source: EVENT_SOURCE,
      type: `audit.${action}`,
      subject: `audit/${id}`,
      time: record.at,
      datacontenttype: 'application/json',
      tenantid: this.config.platformTenant,
      data: record,
    };
    await insertAudit(
      tx,
      {
        id,
        at,
        action,
        tenantId,
        targetType: target.type,
        targetId: target.id,
        actorType: actor.type,
        actorId: actor.id,
        ip: actor.ip ?? null,
        userAgent: actor.userAgent?.slice(0, 300) ?? null,
        details,
      },
      event,
    );
  }
}
