import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { EVENTS_PAGE, paymentSubject, type EventNotice } from '../../app/streams.js';
import { publicPayment } from '../../domain/payment.js';
import { AppError } from '../../app/errors.js';
import type { IdentityDirectory } from '../../app/identity.js';
import { onlyCustomer, ownedBy } from '../customer-access.js';
import { StreamSlots } from '../stream-slots.js';
import { customerTokenBody, errorResponses, paymentIdParams } from '../schemas.js';

const TERMINAL_EVENTS = new Set([
  'payment.succeeded',
  'payment.failed',
  'payment.canceled',
  'payment.refunded',
]);
const TERMINAL_STATUSES = new Set(['succeeded', 'failed', 'canceled', 'refunded']);
const HEARTBEAT_MS = 15_000;
/** What the WebSocket carries: payments' events and checkout sessions' (a rider waiting on the page). */
const STREAMED_SUBJECTS = ['payments/', 'checkout_sessions/'];
const isStreamed = (subject: string) => STREAMED_SUBJECTS.some((prefix) => subject.startsWith(prefix));
/** WebSocket close code 1013 (Try Again Later): the server could not go on, a new connection may. */
const CLOSE_TRY_AGAIN = 1013;
/** WebSocket close code 1008 (Policy Violation): the customer token that opened the socket expired. */
const CLOSE_POLICY = 1008;

/**
 * Calls `expire` when the credential that opened the stream stops acting: its customer token
 * expires, or its key is revoked or rolled out or its tenant suspended (checked on each change of
 * the tenants and keys). A stream must not outlive its credential; the function returned cancels.
 */
function onCredentialEnd(
  request: FastifyRequest,
  identity: Pick<IdentityDirectory, 'onChange'>,
  expire: () => void,
): () => void {
  const token = request.customerToken;
  const timer = token && setTimeout(expire, Math.max(0, token.expiresAt.getTime() - Date.now()));
  const stopWatching = identity.onChange(() => {
    if (!request.credentialActs()) expire();
  });
  return () => {
    clearTimeout(timer);
    stopWatching();
  };
}

export const streamRoutes: FastifyPluginAsyncZod = async (app) => {
  const { payments, customerTokens, streams, profileStreams, config, identity } = app.services;
  const slots = new StreamSlots(config.streams);
  const { maxBufferedBytes } = config.streams;
  // Open SSE streams end when the API closes; their clients resume elsewhere with Last-Event-ID.
  const openStreams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of openStreams) end();
  });

  app.post(
    '/v1/customer-tokens',
    {
      schema: {
        summary: "A short-lived token for a customer's app",
        description:
          "For the customer's app (never give it your API key): it reads only this customer's payments, wallet, live streams and customer record, for `expiresInSeconds` (default 15 minutes, at most 1 hour). Send it as `Authorization: Bearer <token>`, or as `?access_token=` where a browser cannot set headers (EventSource, WebSocket).",
        tags: ['streams'],
        body: customerTokenBody,
        response: {
          201: z.object({ token: z.string(), customerId: z.string(), expiresAt: z.string() }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { customerId, expiresInSeconds } = request.body;
      const { token, expiresAt } = await customerTokens.issue(request.tenantId, customerId, expiresInSeconds);
      return reply.status(201).send({ token, customerId, expiresAt: expiresAt.toISOString() });
    },
  );

  app.get(
    '/v1/payments/:id/stream',
    {
      config: { customer: true },
      schema: {
        summary: "A payment's status, live (Server-Sent Events)",
        description:
          "First the current payment (`event: payment`), then the payment again at every event as it happens (`event: payment.succeeded`, ...), closing after a terminal status. Every message's data is the payment. Each message has an `id`; reconnecting with `Last-Event-ID` (or `?lastEventId=`) resumes after it, on any API process.",
        tags: ['streams'],
        params: paymentIdParams,
        querystring: z.object({
          lastEventId: z
            .string()
            .regex(/^\d{1,18}$/)
            .optional(),
          access_token: z.string().optional(),
        }),
        response: { 200: z.string().describe('text/event-stream'), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { tenantId } = request;
      const current = ownedBy(request, await payments.get(tenantId, request.params.id));
      const subject = paymentSubject(current.id);
      const header = request.headers['last-event-id'];
      const resumeFrom = /^\d{1,18}$/.test(String(header ?? '')) ? Number(header) : request.query.lastEventId;
      let cursor = resumeFrom === undefined ? undefined : Number(resumeFrom);
      const release = slots.open(tenantId, request.customerToken?.value);

      reply.hijack();
      const out = reply.raw;
      out.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      let open = true;
      const send = (id: number, event: string, data: unknown) => {
        if (!open) return;
        // A client that stopped reading resumes later from its Last-Event-ID: its unread
        // backlog is dropped rather than held in this process's memory.
        if (out.writableLength > maxBufferedBytes) return end(true);
        out.write(`id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      const end = (abort = false) => {
        if (!open) return;
        open = false;
        openStreams.delete(end);
        unsubscribe();
        clearInterval(heartbeat);
        cancelExpiry();
        release();
        if (abort) out.destroy();
        else out.end();
      };
      const cancelExpiry = onCredentialEnd(request, identity, end);
      // One read at a time, each from the cursor: notices may come in any number and order.
      let reading = Promise.resolve();
      const catchUp = () => {
        reading = reading
          .then(async () => {
            while (open && cursor !== undefined) {
              const rows = await streams.eventsAfter(tenantId, current.id, cursor);
              for (const row of rows) {
                // The payment as of this event: every message's data reads the same way.
                send(row.seq, row.type, row.data);
                cursor = row.seq;
                if (TERMINAL_EVENTS.has(row.type)) return end();
              }
              if (rows.length < EVENTS_PAGE) return;
            }
          })
          .catch(() => end());
      };
      const unsubscribe = streams.subscribe((notice) => {
        if (notice === 'resync' || (notice.tenantId === tenantId && notice.subject === subject)) catchUp();
      });
      openStreams.add(end);
      const heartbeat = setInterval(() => open && out.write(': keep-alive\n\n'), HEARTBEAT_MS);
      // The client went away (or the server closes the connection).
      out.on('close', () => end());

      if (cursor === undefined) {
        try {
          const { seq, payment: view } = await streams.snapshot(tenantId, current.id);
          send(seq, 'payment', publicPayment(view));
          cursor = seq;
          if (TERMINAL_STATUSES.has(view.status)) return end();
        } catch (error) {
          // The client reconnects (EventSource does it by itself) and starts again.
          request.log.warn({ err: error }, 'closing an event stream: reading the payment failed');
          return end();
        }
      }
      catchUp();
    },
  );

  app.get(
    '/v1/stream',
    {
      websocket: true,
      config: { customer: true },
      schema: {
        // OpenAPI has no words for a WebSocket: docs/streams.md describes it.
        hide: true,
        querystring: z.object({
          customerId: z.string().max(200).optional(),
          access_token: z.string().optional(),
          /** An integration profile's name: its stream bindings' messages instead of CloudEvents. */
          profile: z.string().max(63).optional(),
        }),
      },
    },
    (socket, request) => {
      const { tenantId } = request;
      const { profile } = request.query;
      // Checked before the upgrade too (below); this is the count that holds.
      if (slots.refusal(tenantId, request.customerToken?.value))
        return socket.close(CLOSE_TRY_AGAIN, 'too many open streams');
      const release = slots.open(tenantId, request.customerToken?.value);
      const wanted = request.customerId ?? request.query.customerId;
      const send = (data: string) => {
        if (socket.readyState !== socket.OPEN) return;
        // A client that does not read would make this process hold every event for it: it is
        // cut off instead (no close handshake: it would not read that either).
        if (socket.bufferedAmount > maxBufferedBytes) return socket.terminate();
        socket.send(data);
      };
      const unsubscribe = streams.subscribe((notice: EventNotice | 'resync') => {
        if (notice === 'resync' || notice.tenantId !== tenantId || !isStreamed(notice.subject)) return;
        if (wanted !== undefined && notice.customerId !== wanted) return;
        streams.cloudEvent(notice.seq).then(
          async (event) => {
            if (!event) return;
            if (profile === undefined) return send(JSON.stringify(event));
            const messages = await profileStreams.messages(tenantId, profile, event, (error) =>
              request.log.warn({ err: error, profile }, "a profile's stream mapping failed"),
            );
            for (const message of messages) send(message);
          },
          // The socket has no replay: rather than skip an event, it closes, and the client
          // reconnects and reads the current state (docs/streams.md).
          (error: unknown) => {
            request.log.warn({ err: error }, 'closing a WebSocket stream: reading its event failed');
            socket.close(CLOSE_TRY_AGAIN, 'event read failed; reconnect');
          },
        );
      });
      const cancelExpiry = onCredentialEnd(request, identity, () =>
        socket.close(CLOSE_POLICY, 'credential ended'),
      );
      socket.on('close', () => {
        unsubscribe();
        cancelExpiry();
        release();
      });
    },
  );

  // Before the upgrade, as an HTTP answer: a customer token's WebSocket must name no other
  // customer, and there must be room for one more stream.
  app.addHook('preValidation', async (request) => {
    if (request.routeOptions.url !== '/v1/stream') return;
    const { customerId: asked, profile } = request.query as { customerId?: string; profile?: string };
    if (asked !== undefined) onlyCustomer(request, asked);
    if (profile !== undefined && !profileStreams.streams(request.tenantId, profile))
      throw new AppError(
        'not_found',
        'profile_not_found',
        `no profile "${profile}" with stream messages for this tenant`,
      );
    const refused = slots.refusal(request.tenantId, request.customerToken?.value);
    if (refused) throw refused;
  });
};
