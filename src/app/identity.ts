import { createHash } from 'node:crypto';
import type { Config } from '../config.js';
import type { Executor } from '../db/client.js';
import {
  findApiKeyByHash,
  IDENTITY_CHANNEL,
  loadIdentity,
  type ApiKeyRow,
  type TenantRow,
} from '../db/identity.js';
import type { RoutingRule } from '../domain/routing.js';
import {
  tenantSettings,
  type JwtSettings,
  type KeyScope,
  type Tenant,
  type TenantSettings,
} from '../domain/tenants.js';
import { PgChannel } from '../events/hub.js';

/** What the admin API's keys look like (src/app/tenant-admin.ts). */
const STORED_KEY_SHAPE = /^[spr]k_(?:live|test)_[A-Za-z0-9]{32}$/;

/** The SHA-256 of an API key's secret, as stored (the secret itself never is). */
export function secretHash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** What a presented API key is. */
export type KeyCheck =
  | { status: 'ok'; tenantId: string; scope: KeyScope; keyId?: string | undefined }
  | { status: 'revoked' | 'expired'; tenantId: string; keyId: string }
  | { status: 'suspended'; tenantId: string; keyId?: string | undefined }
  | { status: 'unknown' };

interface KeyEntry {
  id: string;
  tenantId: string;
  scope: KeyScope;
  expiresAt: number | undefined;
  revoked: boolean;
}

type EnvDefaults = Pick<Config, 'apiKeys' | 'envTenants' | 'tenantConnectors' | 'routing'> & {
  rateLimit: Pick<Config['rateLimit'], 'perTenant'>;
};

/** A stored row as the API shows it. */
export function tenantOfRow(row: TenantRow, envSettings: TenantSettings = {}): Tenant {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    settings: { ...envSettings, ...readableSettings(row.settings) },
    source: 'database',
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/**
 * Stored settings as this version reads them. A field it cannot read (written by a later
 * version, or by hand) is left out, alone: its environment default applies, and an origin list
 * or an identity provider that cannot be read lets nothing in. The admin API shows the rest and
 * can set the field again.
 */
export function readableSettings(raw: unknown): TenantSettings {
  const whole = tenantSettings.safeParse(raw);
  if (whole.success) return whole.data;
  const kept: TenantSettings = {};
  if (typeof raw !== 'object' || raw === null) return kept;
  for (const [field, value] of Object.entries(raw as Record<string, unknown>)) {
    const one = tenantSettings.safeParse({ [field]: value });
    if (one.success) Object.assign(kept, one.data);
    else console.error(`a stored tenant setting cannot be read and is ignored: ${field}`);
  }
  return kept;
}

/** What the environment sets for a tenant it names. */
export function envSettingsOf(env: EnvDefaults, tenantId: string): TenantSettings {
  const connector = env.tenantConnectors.get(tenantId);
  const routing = env.routing.get(tenantId);
  const max = env.rateLimit.perTenant.get(tenantId);
  return {
    ...(connector !== undefined ? { connector } : {}),
    ...(routing !== undefined ? { routing } : {}),
    ...(max !== undefined ? { rateLimit: { max } } : {}),
  };
}

/** A tenant the environment names and nothing stored changes. */
export function envTenant(env: EnvDefaults, tenantId: string): Tenant {
  return {
    id: tenantId,
    name: tenantId,
    status: 'active',
    settings: envSettingsOf(env, tenantId),
    source: 'environment',
  };
}

/**
 * Every tenant and API key, held in memory in each API process and kept current by
 * `LISTEN paysaga_identity`: a change committed by any process (a key revoked, a tenant's origins
 * edited) reaches every process in milliseconds, without a restart and without a query per
 * request. A notice missed while the connection was down is made up by a full reload when it is
 * back (`resync`), and a reload every `refreshMs` besides.
 *
 * The environment's keys (`API_KEYS`) and tenants stay a bootstrap beside the stored ones: a
 * stored tenant of the same id overrides its status and, field by field, its settings.
 */
export class IdentityDirectory {
  #tenants = new Map<string, Tenant>();
  #keys = new Map<string, KeyEntry>();
  #byIssuer = new Map<string, { tenantId: string; jwt: JwtSettings }[]>();
  #origins = new Set<string>();
  #loading: Promise<void> | undefined;
  #again = false;
  #channel: PgChannel<string> | undefined;
  readonly #listeners = new Set<() => void>();
  #timer: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;
  /** When the last reload finished (ms since epoch), for tests and readiness. */
  loadedAt = 0;

  constructor(
    private readonly db: Executor | undefined,
    private readonly env: EnvDefaults,
    private readonly options: { databaseUrl?: string | undefined; refreshMs?: number } = {},
  ) {
    this.#index([], []);
  }

  /** Loads what is stored and follows its changes; without a database, the environment alone. */
  async start(): Promise<void> {
    if (!this.db) return;
    this.#channel = new PgChannel<string>(
      this.options.databaseUrl,
      IDENTITY_CHANNEL,
      (payload) => payload ?? '',
    );
    // A notice, or `resync` after the connection came back: either way, read everything again.
    this.#channel.subscribe(() => void this.reload());
    await this.reload();
    this.#timer = setInterval(() => void this.reload(), this.options.refreshMs ?? 30_000);
    this.#timer.unref();
  }

  /** Stops following changes: no reload, retry or tick runs after it. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#retry);
    await this.#channel?.close();
    await this.#loading;
  }

  /** Reads everything again; calls during a reload make one more after it. */
  async reload(): Promise<void> {
    if (this.#loading) {
      this.#again = true;
      return this.#loading;
    }
    this.#loading = (async () => {
      try {
        do {
          this.#again = false;
          if (!this.db || this.#closed) return;
          try {
            const { tenants, keys } = await loadIdentity(this.db);
            this.#index(tenants, keys);
            this.loadedAt = Date.now();
          } catch (error) {
            // The last good copy stays in use until a read succeeds: a notice that came meanwhile
            // (a revocation) must not wait for the next tick.
            if (this.#closed) return;
            console.error('identity reload failed; retrying in 1 s', (error as Error).message);
            clearTimeout(this.#retry);
            this.#retry = setTimeout(() => void this.reload(), 1_000);
            this.#retry.unref();
            return;
          }
        } while (this.#again);
      } finally {
        this.#loading = undefined;
      }
    })();
    return this.#loading;
  }

  #index(rows: TenantRow[], keys: ApiKeyRow[]): void {
    const tenants = new Map<string, Tenant>();
    for (const id of this.env.envTenants) tenants.set(id, envTenant(this.env, id));
    for (const row of rows) tenants.set(row.id, tenantOfRow(row, envSettingsOf(this.env, row.id)));
    const byIssuer = new Map<string, { tenantId: string; jwt: JwtSettings }[]>();
    const origins = new Set<string>();
    for (const tenant of tenants.values()) {
      if (tenant.status !== 'active') continue;
      for (const origin of tenant.settings.corsOrigins ?? []) origins.add(origin);
      const jwt = tenant.settings.jwt;
      if (jwt) byIssuer.set(jwt.issuer, [...(byIssuer.get(jwt.issuer) ?? []), { tenantId: tenant.id, jwt }]);
    }
    const keyMap = new Map<string, KeyEntry>();
    for (const key of keys)
      keyMap.set(key.secretHash, {
        id: key.id,
        tenantId: key.tenantId,
        scope: key.scope,
        expiresAt: key.expiresAt?.getTime(),
        revoked: key.revokedAt !== null,
      });
    this.#tenants = tenants;
    this.#keys = keyMap;
    this.#byIssuer = byIssuer;
    this.#origins = origins;
    for (const listener of this.#listeners) listener();
  }

  /** Calls `listener` after each reload (live streams check their credential still acts). */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The tenant and scope of an API key's secret, or why it does not act. */
  checkKey(secret: string, now = Date.now()): KeyCheck {
    const envTenantId = this.env.apiKeys.get(secret);
    if (envTenantId !== undefined)
      return this.isActive(envTenantId)
        ? { status: 'ok', tenantId: envTenantId, scope: 'full' }
        : { status: 'suspended', tenantId: envTenantId };
    const key = this.#keys.get(secretHash(secret));
    if (!key) return { status: 'unknown' };
    // A key outlives neither its tenant (removed from the environment, never stored) nor its revocation.
    if (!this.#tenants.has(key.tenantId)) return { status: 'unknown' };
    if (key.revoked) return { status: 'revoked', tenantId: key.tenantId, keyId: key.id };
    if (key.expiresAt !== undefined && key.expiresAt <= now)
      return { status: 'expired', tenantId: key.tenantId, keyId: key.id };
    if (!this.isActive(key.tenantId)) return { status: 'suspended', tenantId: key.tenantId, keyId: key.id };
    return { status: 'ok', tenantId: key.tenantId, scope: key.scope, keyId: key.id };
  }

  /**
   * Like `checkKey`, and a secret of the stored keys' shape that this process does not know yet
   * (made a moment ago on another process, its notice still on the way) is looked up in
   * PostgreSQL: a key works on every process as soon as its creation has answered. Unknown keys
   * of that shape cost a query each; the rate limit of requests without a valid key bounds them.
   */
  async checkKeyNow(secret: string): Promise<KeyCheck> {
    const known = this.checkKey(secret);
    if (known.status !== 'unknown' || !this.db || !STORED_KEY_SHAPE.test(secret)) return known;
    const row = await findApiKeyByHash(this.db, secretHash(secret));
    if (!row) return known;
    // Its tenant may be as new as the key: read everything once, then answer from memory.
    await this.reload();
    return this.checkKey(secret);
  }

  tenant(id: string): Tenant | undefined {
    return this.#tenants.get(id);
  }

  tenants(): Tenant[] {
    return [...this.#tenants.values()];
  }

  /** A tenant this process knows, and not suspended. */
  isActive(tenantId: string): boolean {
    return this.#tenants.get(tenantId)?.status === 'active';
  }

  /** The connector a tenant chose for itself (the environment's choice is the registry's). */
  connectorOf(tenantId: string): string | undefined {
    return this.#tenants.get(tenantId)?.settings.connector;
  }

  rulesOf(tenantId: string): readonly RoutingRule[] | undefined {
    return this.#tenants.get(tenantId)?.settings.routing;
  }

  /** The tenant's requests per window, when it has its own limit. */
  rateLimitOf(tenantId: string): number | undefined {
    return this.#tenants.get(tenantId)?.settings.rateLimit?.max;
  }

  originsOf(tenantId: string): readonly string[] {
    const tenant = this.#tenants.get(tenantId);
    return tenant?.status === 'active' ? (tenant.settings.corsOrigins ?? []) : [];
  }

  allowedAnywhere(origin: string): boolean {
    return this.#origins.has(origin);
  }

  /** The active tenants whose identity provider is this issuer. */
  jwtTenants(issuer: string): readonly { tenantId: string; jwt: JwtSettings }[] {
    return this.#byIssuer.get(issuer) ?? [];
  }
}
