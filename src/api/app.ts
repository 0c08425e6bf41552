import type { Client } from '@temporalio/client';
import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import { authPlugin } from './plugins/auth.js';
import { docsPlugin } from './plugins/docs.js';
import { errorsPlugin } from './plugins/errors.js';
import { servicesPlugin } from './plugins/services.js';
import { healthRoutes } from './routes/health.js';
import { paymentRoutes } from './routes/payments.js';
import { refundRoutes } from './routes/refunds.js';
import { walletRoutes } from './routes/wallets.js';
import { webhookRoutes } from './routes/webhooks.js';

export interface AppDeps {
  config: Config;
  db: Database;
  temporal: Client;
  logger?: boolean;
}

export async function buildApp({ config, db, temporal, logger }: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: logger === false ? false : { level: config.logLevel },
    bodyLimit: 64 * 1024,
    // Return 400s for these rather than silently coercing.
    ajv: { customOptions: { coerceTypes: false } },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // The API speaks JSON only; anything else is a 415, not a string handed to the schema.
  app.removeContentTypeParser('text/plain');

  await app.register(errorsPlugin);
  await app.register(servicesPlugin, { config, db, temporal });
  await app.register(authPlugin, { apiKeys: config.apiKeys, adminKeys: config.adminKeys });
  await app.register(docsPlugin);
  await app.register(healthRoutes);
  await app.register(paymentRoutes);
  await app.register(refundRoutes);
  await app.register(walletRoutes);
  await app.register(webhookRoutes);
  return app;
}
