import { connectorOf, type Config } from '../config.js';
import { PayPalConnector } from './connectors/paypal/connector.js';
import { SandboxConnector } from './connectors/sandbox/connector.js';
import { StripeConnector } from './connectors/stripe/connector.js';
import type { GatewayMethod, PaymentGateway } from './port.js';
import { matchingRoute, type RoutedPayment, type RoutingRule } from '../domain/routing.js';

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

/** A tenant's own choices, kept as data (src/app/identity.ts): they win over the environment's. */
export interface TenantRouting {
  connectorOf(tenantId: string): string | undefined;
  rulesOf(tenantId: string): readonly RoutingRule[] | undefined;
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
    private readonly routing: ReadonlyMap<string, readonly RoutingRule[]> = new Map(),
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
    for (const [tenant, rules] of routing) {
      const problem = this.routingProblem(tenant, rules);
      if (problem) throw new Error(`ROUTING_RULES: ${problem}`);
    }
  }

  /** Tenants' own settings, read on every lookup (they change while the process runs). */
  #tenantRouting: TenantRouting | undefined;

  useTenantRouting(source: TenantRouting): void {
    this.#tenantRouting = source;
  }

  /**
   * Why the tenant cannot use these rules, if it cannot: a connector a rule names has no account
   * for the tenant, or cannot take the method the rule is for (a rule for PayPal names PayPal
   * connectors only). Checked at start for the environment's rules, on each change for a tenant's.
   */
  routingProblem(tenant: string, rules: readonly RoutingRule[]): string | undefined {
    for (const [index, rule] of rules.entries())
      for (const name of rule.connectors) {
        const gateway = this.find(name, tenant);
        if (!gateway)
          return (
            `rule ${index} of tenant ${tenant} names connector "${name}", ` +
            `on which the tenant has no account (configured: ${this.names().join(', ')})`
          );
        const method = rule.match.method === 'paypal' ? 'paypal' : rule.match.method ? 'card' : undefined;
        if (method && !takes(gateway, method))
          return `rule ${index} of tenant ${tenant} sends ${rule.match.method} payments to "${name}", which does not take them`;
      }
    return undefined;
  }

  /** Why the tenant cannot have its card payments on this connector, if it cannot. */
  connectorProblem(tenant: string, name: string): string | undefined {
    const gateway = this.find(name, tenant);
    if (!gateway)
      return this.byName.has(name)
        ? `tenant ${tenant} has no account on payment connector "${name}"`
        : `no payment connector named "${name}" is configured (configured: ${this.names().join(', ')})`;
    return takes(gateway, 'card') ? undefined : `connector "${name}" does not take card payments`;
  }

  /** The tenant's routing rules, in order (none: every payment goes to `connectorFor`). */
  rulesFor(tenantId: string): readonly RoutingRule[] {
    return this.#tenantRouting?.rulesOf(tenantId) ?? this.routing.get(tenantId) ?? [];
  }

  /**
   * The connectors a payment is tried on, in order: the first rule of the tenant's that matches,
   * kept to the connectors that take the method; without one, the tenant's connector for cards and
   * its PayPal account for PayPal. Empty: no connector of the tenant takes the method.
   */
  routeFor(tenantId: string, payment: RoutedPayment): { connectors: string[]; rule?: number | undefined } {
    const method: GatewayMethod = payment.method === 'paypal' ? 'paypal' : 'card';
    const usable = (name: string) => {
      const gateway = this.find(name, tenantId);
      return gateway !== undefined && takes(gateway, method);
    };
    const matched = matchingRoute(this.rulesFor(tenantId), payment);
    if (matched) {
      const connectors = matched.connectors.filter(usable);
      if (connectors.length > 0) return { connectors, rule: matched.rule };
    }
    if (method === 'card') return { connectors: [this.connectorFor(tenantId)].filter(usable) };
    return { connectors: this.names().filter(usable).slice(0, 1) };
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  /** The connector a tenant's new payments and top-ups go through. */
  connectorFor(tenantId: string): string {
    const own = this.#tenantRouting?.connectorOf(tenantId);
    if (own !== undefined) return own;
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

/** Whether the connector charges this kind of method (cards unless it says otherwise). */
export function takes(gateway: PaymentGateway, method: GatewayMethod): boolean {
  return (gateway.methods ?? ['card']).includes(method);
}

export type ConnectorConfig = Pick<
  Config,
  'gatewayUrl' | 'webhookSecret' | 'defaultConnector' | 'tenantConnectors' | 'stripe'
> &
  Partial<Pick<Config, 'paypal' | 'routing'>>;

/**
 * Every connector this version knows, configured from the environment: the sandbox (shared by
 * every tenant on it), one Stripe connector per set of Stripe credentials and one PayPal
 * connector per set of PayPal credentials; and the tenants' routing rules.
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
  for (const account of config.paypal?.accounts ?? []) {
    const gateway = new PayPalConnector({
      clientId: account.clientId,
      clientSecret: account.clientSecret,
      webhookId: account.webhookId,
      apiBase: config.paypal?.apiBase,
      extraCertHosts: config.paypal?.certHosts,
    });
    accounts.push({ gateway, tenants: account.tenants });
  }
  return new ConnectorRegistry(accounts, config.defaultConnector, config.tenantConnectors, config.routing);
}
