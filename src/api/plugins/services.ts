import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../../config.js';
import type { Database } from '../../db/client.js';
import { PaymentService } from '../services/payments.js';
import { RefundService } from '../services/refunds.js';
import { WalletService } from '../services/wallets.js';

export interface Services {
  config: Config;
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
    app.decorate('services', {
      config,
      db,
      temporal,
      payments: new PaymentService(db, temporal, config),
      wallets: new WalletService(temporal),
      refunds: new RefundService(db, temporal, config),
    });
  },
  { name: 'services' },
);
