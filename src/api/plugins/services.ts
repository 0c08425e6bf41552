import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../../config.js';
import type { Database } from '../../db/client.js';
import { Circuit } from '../dependencies.js';
import { PaymentService } from '../services/payments.js';
import { RefundService } from '../services/refunds.js';
import { WalletService } from '../services/wallets.js';

export interface Services {
  config: Config;
  /** Trips when Temporal stops answering, so requests get a fast 503 instead of a long wait. */
  temporalCircuit: Circuit;
  db: Database;
  temporal: Client;
  payments: PaymentService;
  wallets: WalletService;
  refunds: RefundService;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}

export interface ServicesOptions {
  config: Config;
  db: Database;
  temporal: Client;
}

export const servicesPlugin = fp(
  async (app: FastifyInstance, { config, db, temporal }: ServicesOptions) => {
    const temporalCircuit = new Circuit('temporal');
    const temporalCall = <T>(call: () => Promise<T>) => temporalCircuit.run(call);
    app.decorate('services', {
      config,
      temporalCircuit,
      db,
      temporal,
      payments: new PaymentService(db, temporal, config, temporalCall),
      wallets: new WalletService(temporal, config, temporalCall),
      refunds: new RefundService(db, temporal, config, temporalCall),
    });
  },
  { name: 'services' },
);
