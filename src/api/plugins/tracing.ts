import { trace, type Span } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { startRequestSpan } from '../../tracing.js';
import { bindLog } from '../log-context.js';

declare module 'fastify' {
  interface FastifyRequest {
    span: Span | undefined;
  }
}

/**
 * A span per request (continuing the caller's `traceparent`), active while the request runs, so
 * the Temporal client's interceptor carries it into the workflow the request starts or updates.
 * Its trace id goes on every log line of the request and back to the caller as `traceparent`.
 */
export const tracingPlugin = fp(
  async (app: FastifyInstance) => {
    const tracer = trace.getTracer('paysaga');
    app.decorateRequest('span', undefined);
    app.addHook('onRequest', (request, reply, done) => {
      const { span, run } = startRequestSpan(
        tracer,
        `${request.method} ${request.routeOptions.url ?? 'unmatched'}`,
        request.headers,
      );
      request.span = span;
      const { traceId, spanId, traceFlags } = span.spanContext();
      // Without a registered tracer provider (an app built in a test) spans are no-ops.
      if (trace.isSpanContextValid(span.spanContext())) {
        bindLog(request, reply, { traceId });
        void reply.header('traceparent', `00-${traceId}-${spanId}-0${traceFlags}`);
      }
      // The rest of the request (hooks, handler) runs inside the span's context.
      run(done);
    });
    app.addHook('onResponse', async (request, reply) => {
      request.span?.setAttribute('http.response.status_code', reply.statusCode);
      request.span?.end();
    });
  },
  { name: 'paysaga-tracing' },
);
