import type { Config } from '../config.js';
import { SandboxConnector } from './connectors/sandbox/connector.js';
import type { PaymentGateway } from './port.js';

/** A payment names a connector that this process has not configured. */
export class UnknownConnectorError extends Error {
  override readonly name = 'UnknownConnectorError';
  constructor(
    readonly connector: string,
    known: readonly string[],
  ) {
    super(`no payment connector named "${connector}" is configured (configured: ${known.join(', ')})`);
  }
}

/**
 * The configured connectors, built once per process and looked up by name. A payment records
 * the connector that authorized it, so its capture, void and refunds are routed back to it.
 */
export class ConnectorRegistry {
  private readonly byName = new Map<string, PaymentGateway>();

  constructor(
    connectors: readonly PaymentGateway[],
    /** The connector new payments and top-ups use. */
    readonly defaultName: string,
  ) {
    for (const connector of connectors) {
      if (this.byName.has(connector.name))
        throw new Error(`connector "${connector.name}" is configured twice`);
      this.byName.set(connector.name, connector);
    }
    if (!this.byName.has(defaultName)) throw new UnknownConnectorError(defaultName, this.names());
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  /** The connector called `name`, or undefined (a webhook for an unknown connector is a 404). */
  find(name: string): PaymentGateway | undefined {
    return this.byName.get(name);
  }

  /** The connector called `name`; throws `UnknownConnectorError` when there is none. */
  get(name: string): PaymentGateway {
    const connector = this.byName.get(name);
    if (!connector) throw new UnknownConnectorError(name, this.names());
    return connector;
  }
}

export type ConnectorConfig = Pick<Config, 'gatewayUrl' | 'webhookSecret' | 'defaultConnector'>;

/** Every connector this version knows, configured from the environment (today: the sandbox). */
export function createConnectorRegistry(config: ConnectorConfig): ConnectorRegistry {
  const sandbox = new SandboxConnector({ baseUrl: config.gatewayUrl, webhookSecret: config.webhookSecret });
  return new ConnectorRegistry([sandbox], config.defaultConnector);
}
