import { connectorOf, type Config } from '../config.js';
import { SandboxConnector } from './connectors/sandbox/connector.js';
import { StripeConnector } from './connectors/stripe/connector.js';
import type { PaymentGateway } from './port.js';

/** A payment names a connector that this process has not configured. */
export class UnknownConnectorError extends Error {
  override readonly name = 'UnknownConnectorError';
  constructor(
    readonly connector: string,
    known: readonly string[],
    tenantId?: string,
  ) {
    super(
      tenantId === undefined
        ? `no payment connector named "${connector}" is configured (configured: ${known.join(', ')})`
        : `tenant ${tenantId} has no account on payment connector "${connector}"`,
    );
  }
}

/**
 * One connector with one set of credentials. `tenants` lists the tenants whose own account it
 * is; without it the account serves every tenant that has no account of its own on it.
 */
export interface ConnectorAccount {
  gateway: PaymentGateway;
  tenants?: readonly string[] | undefined;
}

/**
 * The configured connectors, built once per process and looked up by name and tenant. A payment
 * records the connector that authorized it, so its capture, void and refunds are routed back
 * to it, through the same tenant's account.
 */
export class ConnectorRegistry {
  private readonly byName = new Map<string, { shared?: PaymentGateway; own: Map<string, PaymentGateway> }>();

  constructor(
    accounts: readonly (PaymentGateway | ConnectorAccount)[],
    /** The connector new payments and top-ups use, unless the tenant has its own. */
    readonly defaultName: string,
    private readonly tenantConnectors: ReadonlyMap<string, string> = new Map(),
  ) {
    for (const entry of accounts) {
      const account = 'gateway' in entry ? entry : { gateway: entry };
      const { name } = account.gateway;
      const slot = this.byName.get(name) ?? { own: new Map<string, PaymentGateway>() };
      this.byName.set(name, slot);
      if (!account.tenants) {
        if (slot.shared) throw new Error(`connector "${name}" is configured twice`);
        slot.shared = account.gateway;
      }
      for (const tenant of account.tenants ?? []) {
        if (slot.own.has(tenant)) throw new Error(`tenant ${tenant} has two accounts on connector "${name}"`);
        slot.own.set(tenant, account.gateway);
      }
    }
    if (!this.byName.has(defaultName)) throw new UnknownConnectorError(defaultName, this.names());
    for (const [tenant, name] of tenantConnectors) {
      if (!this.find(name, tenant))
        throw this.byName.has(name)
          ? new UnknownConnectorError(name, this.names(), tenant)
          : new UnknownConnectorError(name, this.names());
    }
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  /** The connector a tenant's new payments and top-ups go through. */
  connectorFor(tenantId: string): string {
    return connectorOf(
      { tenantConnectors: this.tenantConnectors, defaultConnector: this.defaultName },
      tenantId,
    );
  }

  /**
   * The tenant's account on connector `name` (its own, else the shared one), or undefined.
   * Without a tenant (activity tasks from before tenants had their own accounts): the shared one.
   */
  find(name: string, tenantId?: string): PaymentGateway | undefined {
    const slot = this.byName.get(name);
    if (!slot) return undefined;
    return (tenantId !== undefined ? slot.own.get(tenantId) : undefined) ?? slot.shared;
  }

  /** Like `find`; throws `UnknownConnectorError` when there is none. */
  get(name: string, tenantId?: string): PaymentGateway {
    const connector = this.find(name, tenantId);
    if (connector) return connector;
    throw this.byName.has(name)
      ? new UnknownConnectorError(name, this.names(), tenantId)
      : new UnknownConnectorError(name, this.names());
  }

  /**
   * Every account on connector `name`, each with the test of which tenants it serves: a webhook
   * is verified with each account's secret in turn, and moves only payments of the tenants
   * served by the account whose secret verified it.
   */
  accounts(name: string): { gateway: PaymentGateway; serves: (tenantId: string) => boolean }[] {
    const slot = this.byName.get(name);
    if (!slot) return [];
    const result: { gateway: PaymentGateway; serves: (tenantId: string) => boolean }[] = [];
    const owners = new Map<PaymentGateway, Set<string>>();
    for (const [tenant, gateway] of slot.own)
      owners.set(gateway, (owners.get(gateway) ?? new Set()).add(tenant));
    for (const [gateway, tenants] of owners)
      result.push({ gateway, serves: (tenant) => tenants.has(tenant) });
    const shared = slot.shared;
    if (shared) result.push({ gateway: shared, serves: (tenant) => !slot.own.has(tenant) });
    return result;
  }
}

export type ConnectorConfig = Pick<
  Config,
  'gatewayUrl' | 'webhookSecret' | 'defaultConnector' | 'tenantConnectors' | 'stripe'
>;

/**
 * Every connector this version knows, configured from the environment: the sandbox (shared by
 * every tenant on it) and one Stripe connector per set of Stripe credentials.
 */
export function createConnectorRegistry(config: ConnectorConfig): ConnectorRegistry {
  const accounts: ConnectorAccount[] = [
    { gateway: new SandboxConnector({ baseUrl: config.gatewayUrl, webhookSecret: config.webhookSecret }) },
  ];
  for (const account of config.stripe.accounts) {
    const gateway = new StripeConnector({
      apiKey: account.apiKey,
      webhookSecret: account.webhookSecret,
      apiBase: config.stripe.apiBase,
    });
    accounts.push({ gateway, tenants: account.tenants });
  }
  return new ConnectorRegistry(accounts, config.defaultConnector, config.tenantConnectors);
}
