import type { ConnectorRegistry } from '../gateway/registry.js';
import { takes } from '../gateway/registry.js';
import type { RoutingRule } from '../domain/routing.js';

export interface RoutingView {
  /** Where card payments go when no rule matches. */
  defaultConnector: string;
  /** The connectors the tenant has an account on, and what each takes. */
  connectors: { name: string; methods: ('card' | 'paypal')[] }[];
  /** The first rule that matches a payment decides its route; the first connector is tried first. */
  rules: RoutingRule[];
}

/** A tenant's routing as it applies now: `GET /v1/routing`. */
export class RoutingService {
  constructor(
    private readonly connectors: Pick<ConnectorRegistry, 'connectorFor' | 'names' | 'find' | 'rulesFor'>,
  ) {}

  describe(tenantId: string): RoutingView {
    const connectors: RoutingView['connectors'] = [];
    for (const name of this.connectors.names()) {
      const gateway = this.connectors.find(name, tenantId);
      if (!gateway) continue;
      const methods = (['card', 'paypal'] as const).filter((method) => takes(gateway, method));
      connectors.push({ name, methods });
    }
    return {
      defaultConnector: this.connectors.connectorFor(tenantId),
      connectors,
      rules: [...this.connectors.rulesFor(tenantId)],
    };
  }
}
