import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { TEST_CARDS } from './cards.js';
import { parse, schemas, stableStringify } from './schemas.js';
import { SandboxStore } from './store.js';
import { ApiError } from './wire.js';
import type { RefundMode, SandboxStats, WireAuthorization, WireList } from './wire.js';
import { WebhookSender } from './webhooks.js';
import type { WebhookDeliveryStats } from './webhooks.js';
import { renderChallengePage } from './three-ds-page.js';

/**
 * A stand-alone PSP for development and tests: its own HTTP server and in-memory state, Stripe-like
 * idempotency, 3-D Secure, signed webhooks, and a `/_sandbox` control plane that injects faults.
 */
export interface SandboxOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  /** Paysaga's webhook endpoint; without it no webhooks are sent. */
  webhookUrl?: string;
  webhookSecret: string;
  latencyMs?: number;
  /** Base of the 3-D Secure URLs handed to customers; defaults to the listening URL. */
  publicUrl?: string;
  /** Pauses between webhook delivery attempts. */
  webhookRetryDelaysMs?: number[];
}

export interface SandboxFaults {
  latencyMs: number;
  /** The next N payment writes answer 503 and do nothing. */
  failNext: number;
  /** The next N authorizations/captures are performed and recorded, then never answered. */
  timeoutAfterChargeNext: number;
  /** How long such a request hangs before its socket is destroyed; 0 destroys it at once. */
  hangMs: number;
  duplicateWebhooks: boolean;
  outOfOrderWebhooks: boolean;
  outOfOrderDelayMs: number;
  refundMode: RefundMode;
  pendingRefundDelayMs: number;
}

export interface SandboxServer {
  url: string;
  port: number;
  close(): Promise<void>;
  stats(): SandboxStats & { webhooks: WebhookDeliveryStats };
  setFaults(faults: Partial<SandboxFaults>): SandboxFaults;
  resetFaults(): SandboxFaults;
  /** Resolves once no webhook is queued, held back or being retried. */
  webhooksIdle(): Promise<void>;
}

interface StoredResponse {
  fingerprint: string;
  statusCode: number;
  body: string;
}

export async function createSandboxServer(options: SandboxOptions): Promise<SandboxServer> {
  const defaults: SandboxFaults = {
    latencyMs: options.latencyMs ?? 0,
    failNext: 0,
    timeoutAfterChargeNext: 0,
    hangMs: 10_000,
    duplicateWebhooks: false,
    outOfOrderWebhooks: false,
    outOfOrderDelayMs: 2_000,
    refundMode: 'succeed',
    pendingRefundDelayMs: 500,
  };
  let faults = { ...defaults };
  let publicUrl = options.publicUrl ?? '';
  const idempotency = new Map<string, StoredResponse>();
  /**
   * The authorization each `POST /authorizations` created, by the Idempotency-Key it came with:
   * what `GET /authorizations?idempotency_key=` reads. Kept when the idempotency keys are
   * forgotten (it stands for the key as the authorization's own record, as Stripe's metadata
   * would); a key used again after that names the newer authorization.
   */
  const authorizationByKey = new Map<string, string>();
  const hanging = new Set<Socket>();

  const webhooks = new WebhookSender({
    url: options.webhookUrl,
    secret: options.webhookSecret,
    retryDelaysMs: options.webhookRetryDelaysMs ?? [100, 500, 2_000, 5_000],
    faults: () => ({
      duplicate: faults.duplicateWebhooks,
      outOfOrder: faults.outOfOrderWebhooks,
      outOfOrderDelayMs: faults.outOfOrderDelayMs,
    }),
  });
  const store = new SandboxStore({
    actionUrl: (id) => `${publicUrl}/3ds/${id}`,
    emit: (payload) => webhooks.send(payload),
    refundMode: () => ({ mode: faults.refundMode, delayMs: faults.pendingRefundDelayMs }),
  });

  const app = Fastify({ logger: false, forceCloseConnections: true, bodyLimit: 64 * 1024 });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(String(body))));
  });
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof ApiError) {
      return reply.code(error.statusCode).send({ error: { code: error.code, message: error.message } });
    }
    const status = (error as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return reply
        .code(status)
        .send({ error: { code: 'invalid_request', message: (error as Error).message } });
    }
    return reply.code(500).send({ error: { code: 'api_error', message: 'Internal sandbox error' } });
  });
  app.setNotFoundHandler((_request, reply) =>
    reply.code(404).send({ error: { code: 'not_found', message: 'No such route' } }),
  );
  app.addHook('onRequest', async (request) => {
    if (faults.latencyMs > 0 && !request.url.startsWith('/_sandbox')) await sleep(faults.latencyMs);
  });

  /** Fault injection, then Stripe-style idempotency around a synchronous state change. */
  function write<T>(
    request: FastifyRequest,
    reply: FastifyReply,
    schema: z.ZodType<T>,
    charges: boolean,
    execute: (input: T, key: string) => unknown,
  ): void {
    if (faults.failNext > 0) {
      faults.failNext -= 1;
      throw new ApiError(503, 'service_unavailable', 'The sandbox is temporarily unavailable (injected).');
    }
    const key = request.headers['idempotency-key'];
    if (typeof key !== 'string' || key.length === 0 || key.length > 255) {
      throw new ApiError(
        400,
        'idempotency_key_missing',
        'An Idempotency-Key header (1-255 chars) is required.',
      );
    }
    const input = parse(schema, request.body);
    const fingerprint = `${request.method} ${request.url} ${stableStringify(input)}`;
    const stored = idempotency.get(key);
    if (stored) {
      if (stored.fingerprint !== fingerprint) {
        throw new ApiError(
          422,
          'idempotency_key_reused',
          'This Idempotency-Key was used with a different request.',
        );
      }
      void reply
        .code(stored.statusCode)
        .type('application/json')
        .header('idempotent-replayed', 'true')
        .send(stored.body);
      return;
    }
    // No await from lookup to record: two requests with one key cannot both execute.
    let response: StoredResponse;
    try {
      response = { fingerprint, statusCode: 200, body: JSON.stringify(execute(input, key)) };
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const body = JSON.stringify({ error: { code: error.code, message: error.message } });
      response = { fingerprint, statusCode: error.statusCode, body };
    }
    idempotency.set(key, response);
    if (charges && faults.timeoutAfterChargeNext > 0) {
      faults.timeoutAfterChargeNext -= 1;
      hang(request, reply);
      return;
    }
    void reply.code(response.statusCode).type('application/json').send(response.body);
  }

  function hang(request: FastifyRequest, reply: FastifyReply): void {
    reply.hijack();
    const socket = request.raw.socket;
    if (faults.hangMs === 0) {
      socket.destroy();
      return;
    }
    hanging.add(socket);
    const timer = setTimeout(() => socket.destroy(), faults.hangMs);
    socket.once('close', () => {
      clearTimeout(timer);
      hanging.delete(socket);
    });
  }

  type IdParams = { Params: { id: string } };
  // Browsers tokenize cards here from merchants' pages (as with Stripe.js): this route alone
  // answers cross-origin calls; a token is useless without the merchant's own API.
  app.addHook('onRequest', async (request, reply) => {
    if (request.url !== '/tokens') return;
    void reply.header('access-control-allow-origin', '*');
    void reply.header('access-control-allow-methods', 'POST');
    void reply.header('access-control-allow-headers', 'content-type');
    void reply.header('access-control-max-age', '600');
  });
  app.options('/tokens', (_request, reply) => reply.code(204).send());
  app.post('/tokens', (request) => store.tokenize(parse(schemas.token, request.body)));
  // Write handlers are synchronous on purpose: see `write`.
  app.post('/authorizations', (request, reply) => {
    write(request, reply, schemas.authorize, true, (input, key) => {
      const authorization = store.authorize(input);
      authorizationByKey.set(key, authorization.id);
      return authorization;
    });
  });
  /**
   * A read, never a write: the authorization a `POST /authorizations` with this Idempotency-Key
   * created, as it is now, in a list (`{ data: [authorization] }`, or `{ data: [] }` when there
   * is none, or when `reference` names another payment). Not subject to `failNext`, which fails
   * writes only: a client asks this when a write's answer never came.
   */
  app.get('/authorizations', (request): WireList<WireAuthorization> => {
    const query = parse(schemas.findAuthorizations, request.query);
    const id = authorizationByKey.get(query.idempotency_key);
    const authorization = id === undefined ? undefined : store.get(id);
    const matches =
      authorization !== undefined &&
      (query.reference === undefined || authorization.reference === query.reference);
    return { object: 'list', data: matches ? [authorization] : [] };
  });
  app.post<IdParams>('/authorizations/:id/capture', (request, reply) => {
    write(request, reply, schemas.capture, true, (input) => store.capture(request.params.id, input.amount));
  });
  app.post<IdParams>('/authorizations/:id/void', (request, reply) => {
    write(request, reply, schemas.void, false, () => store.void(request.params.id));
  });
  app.post<IdParams>('/authorizations/:id/refunds', (request, reply) => {
    write(request, reply, schemas.refund, false, (input) =>
      store.refund(request.params.id, input.amount, input.reason),
    );
  });
  app.get<IdParams>('/authorizations/:id', (request) => store.get(request.params.id));
  app.post('/payment_methods', (request, reply) => {
    write(request, reply, schemas.savePaymentMethod, false, (input) => store.savePaymentMethod(input));
  });
  app.get<IdParams>('/payment_methods/:id', (request) => store.getPaymentMethod(request.params.id));
  app.post<IdParams>('/payment_methods/:id/detach', (request, reply) => {
    write(request, reply, schemas.void, false, () => store.detachPaymentMethod(request.params.id));
  });
  app.get<IdParams>('/refunds/:id', (request) => store.getRefund(request.params.id));

  app.get<IdParams>('/3ds/:id', (request, reply) => {
    void reply.type('text/html; charset=utf-8').send(renderChallengePage(store.challenge(request.params.id)));
  });
  app.post<IdParams>('/3ds/:id/complete', (request, reply) => {
    const { outcome } = parse(schemas.complete3ds, request.body);
    const fromForm = request.headers['content-type']?.startsWith('application/x-www-form-urlencoded');
    const setup = store.complete3dsSetup(request.params.id, outcome);
    if (setup) {
      if (!(fromForm && setup.returnUrl)) return setup.paymentMethod;
      const target = new URL(setup.returnUrl);
      target.searchParams.set('payment_method', setup.paymentMethod.id);
      void reply.redirect(target.toString(), 303);
      return undefined;
    }
    const result = store.complete3ds(request.params.id, outcome);
    // A browser form goes back to the merchant; an API call gets the authorization.
    if (fromForm && result.returnUrl) {
      const target = new URL(result.returnUrl);
      target.searchParams.set('authorization', result.authorization.id);
      void reply.redirect(target.toString(), 303);
      return undefined;
    }
    return result.authorization;
  });

  app.post('/_sandbox/faults', (request) => {
    faults = { ...faults, ...parse(schemas.faults.partial(), request.body) };
    return faults;
  });
  app.post('/_sandbox/reset', () => (faults = { ...defaults }));
  /**
   * Forgets every idempotency key, as Stripe does after 24 hours: a write sent again with a
   * key it had already seen is then performed again.
   */
  app.post('/_sandbox/forget-idempotency-keys', () => {
    const forgotten = idempotency.size;
    idempotency.clear();
    return { forgotten };
  });
  app.get('/_sandbox/stats', () => ({ ...store.stats(), webhooks: { ...webhooks.stats } }));
  app.get('/_sandbox/cards', () => TEST_CARDS);
  /** Liveness for Paysaga's /readyz (not subject to fault injection). */
  app.get('/healthz', () => ({ status: 'ok' }));

  await app.listen({ port: options.port, host: options.host ?? '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('Sandbox server has no TCP address');
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  publicUrl ||= url;

  return {
    url,
    port: address.port,
    async close() {
      webhooks.close();
      store.close();
      for (const socket of hanging) socket.destroy();
      await app.close();
    },
    stats: () => ({ ...store.stats(), webhooks: { ...webhooks.stats } }),
    setFaults: (update) => (faults = { ...faults, ...parse(schemas.faults.partial(), update) }),
    resetFaults: () => (faults = { ...defaults }),
    webhooksIdle: () => webhooks.idle(),
  };
}
