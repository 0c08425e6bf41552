import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Config } from '../config.js';
import { loggerOptions } from '../logger.js';
import type { ApplicationDeps } from '../app/index.js';
import { authPlugin } from './plugins/auth.js';
import { corsPlugin } from './plugins/cors.js';
import { CredentialCheck } from './identify.js';
import { docsPlugin } from './plugins/docs.js';
import { clientErrorHandler, errorsPlugin, frameworkErrors } from './plugins/errors.js';
import { idempotencyPlugin } from './plugins/idempotency.js';
import { metricsPlugin } from './plugins/metrics.js';
import { tracingPlugin } from './plugins/tracing.js';
import { protectionPlugin } from './plugins/protection.js';
import { createServices, servicesPlugin, type Services } from './plugins/services.js';
import { MAX_BODY_BYTES } from '../app/json-body.js';
import { refuseNulInUrl, strictJsonBodies } from './input.js';
import { adminRoutes } from './routes/admin.js';
import { tenantRoutes } from './routes/tenants.js';
import { checkoutSessionRoutes } from './routes/checkout-sessions.js';
import { customerRoutes } from './routes/customers.js';
import { checkoutPageRoutes } from './pages/routes.js';
import { paymentLinkPageRoutes } from './pages/payment-link-routes.js';
import { paymentLinkRoutes } from './routes/payment-links.js';
import { healthRoutes } from './routes/health.js';
import { paymentRoutes } from './routes/payments.js';
import { refundRoutes } from './routes/refunds.js';
import { returnPageRoutes } from './routes/return-page.js';
import { timelineRoutes } from './routes/timeline.js';
import { reportRoutes } from './routes/reports.js';
import { routingRoutes } from './routes/routing.js';
import { walletRoutes } from './routes/wallets.js';
import { streamRoutes } from './routes/streams.js';
import { webhookEndpointRoutes } from '../webhooks/routes.js';
import { webhookRoutes } from './routes/webhooks.js';

/** The largest WebSocket message a client may send (ws's default is 100 MiB). */
export const MAX_CLIENT_MESSAGE_BYTES = 1024;

/** The app over PostgreSQL and Temporal, or over services a test provides. */
export type AppDeps = { config: Config; logger?: boolean } & (ApplicationDeps | { services: Services });

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config, logger } = deps;
  const services = 'services' in deps ? deps.services : createServices(deps);
  const app = Fastify({
    logger: logger === false ? false : loggerOptions(config.logLevel, 'api'),
    bodyLimit: MAX_BODY_BYTES,
    // Return 400s for these rather than silently coercing.
    ajv: { customOptions: { coerceTypes: false } },
    // Errors answered before a route runs (bad percent-encoding, over-long parameters, headers
    // too large) leave as problem+json too.
    frameworkErrors,
    clientErrorHandler,
    // As long as the longest path parameter the schemas accept (external ids: 200 characters),
    // so a schema-valid id is never refused by the router; longer ones are a 400.
    routerOptions: { maxParamLength: 200 },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // The API speaks JSON only; anything else is a 415, not a string handed to the schema.
  app.removeContentTypeParser('text/plain');
  refuseNulInUrl(app);

  await app.register(errorsPlugin);
  await app.register(metricsPlugin);
  await app.register(tracingPlugin);
  // Stored tenants and keys first: the first request may carry a key created a moment ago.
  if (!('services' in deps)) await services.identity.start();
  app.addHook('onClose', async () => {
    if (!('services' in deps)) await services.identity.close();
  });
  const credentials = new CredentialCheck({
    identity: services.identity,
    adminKeys: config.adminKeys,
    customerTokens: services.customerTokens,
    tenantJwt: services.tenantJwt,
  });
  await app.register(protectionPlugin, {
    credentials,
    identity: services.identity,
    rateLimit: config.rateLimit,
    pressure: config.pressure,
  });
  // Clients send nothing on the stream but control frames: a message is at most a short line.
  await app.register(websocket, { options: { maxPayload: MAX_CLIENT_MESSAGE_BYTES } });
  await app.register(servicesPlugin, { services });
  await app.register(authPlugin, {
    credentials,
    identity: services.identity,
    platformTenant: config.platformTenant,
    audit: services.tenantAdmin,
  });
  // After auth (the origin check needs the tenant), before the routes (it adds their preflights).
  await app.register(corsPlugin, { policy: services.identity, publicUrl: config.publicUrl });
  await app.register(idempotencyPlugin, {
    keys: services.idempotencyKeys,
    sweepIntervalMs: config.idempotency.sweepIntervalMs,
  });
  await app.register(docsPlugin);
  await app.register(async (api) => {
    strictJsonBodies(api);
    await api.register(healthRoutes);
    await api.register(paymentRoutes);
    await api.register(timelineRoutes);
    await api.register(refundRoutes);
    await api.register(walletRoutes);
    await api.register(webhookEndpointRoutes);
    await api.register(streamRoutes);
    await api.register(adminRoutes);
    await api.register(tenantRoutes);
    await api.register(reportRoutes);
    await api.register(routingRoutes);
    await api.register(returnPageRoutes);
    await api.register(checkoutSessionRoutes);
    await api.register(paymentLinkRoutes);
    await api.register(customerRoutes);
  });
  await app.register(webhookRoutes);
  await app.register(checkoutPageRoutes);
  await app.register(paymentLinkPageRoutes);
  return app;
}
