import { createRequire } from 'node:module';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, NoopSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client/index.js';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/worker/index.js';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import { moduleFile } from './project-root.js';

const require = createRequire(import.meta.url);

/**
 * Traces with OpenTelemetry: a span per API request (continuing the caller's `traceparent`),
 * carried by the Temporal SDK's OpenTelemetry interceptors into the workflow it starts or
 * updates, and from there into each activity. Spans always exist, so their trace id ties log
 * lines together across processes; they are exported (OTLP over HTTP) only when
 * `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set.
 */
export interface Tracing {
  tracer: Tracer;
  spanProcessor: SpanProcessor;
  resource: Resource;
  exporting: boolean;
  shutdown(): Promise<void>;
}

/** Whether spans leave the process: an OTLP endpoint is configured. */
export function exportsSpans(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

export function setupTracing(serviceName: string, env: NodeJS.ProcessEnv = process.env): Tracing {
  const resource = new Resource({ 'service.name': serviceName });
  const exporting = exportsSpans(env);
  const spanProcessor = exporting ? new BatchSpanProcessor(new OTLPTraceExporter()) : new NoopSpanProcessor();
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // The global provider, an AsyncLocalStorage context manager and the W3C propagator.
  provider.register();
  return {
    tracer: trace.getTracer('paysaga'),
    spanProcessor,
    resource,
    exporting,
    shutdown: () => provider.shutdown(),
  };
}

/** For a Temporal client: the current span's context goes into every workflow start, update and signal. */
export function clientInterceptors() {
  return { workflow: [new OpenTelemetryWorkflowClientInterceptor()] };
}

/**
 * The workflow-side interceptors, bundled with the workflow code. When spans are exported:
 * OpenTelemetry's, which add a span per workflow run and per activity call. Otherwise Paysaga's
 * propagation alone (src/workflows/trace-headers.ts), which carries the trace to the activities
 * at a fraction of the cost. Either replays the other's histories: neither adds commands.
 */
export function workflowInterceptorModules(spans: boolean = exportsSpans()): string[] {
  return [
    spans
      ? require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')
      : moduleFile(import.meta.url, './workflows/trace-headers.js'),
  ];
}

/** For a worker: activity spans continue the workflow's trace, and activity log lines carry its ids. */
export const activityInterceptors: ActivityInterceptorsFactory[] = [
  (ctx) => ({
    inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
    outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
  }),
];

/**
 * The sink the bundled workflow interceptors export their spans to. Every worker running the
 * bundle registers it (without tracing, into a processor that drops them).
 */
export function workflowSinks(tracing?: Pick<Tracing, 'spanProcessor' | 'resource'>): InjectedSinks<never> {
  const processor = tracing?.spanProcessor ?? new NoopSpanProcessor();
  const resource = tracing?.resource ?? new Resource({ 'service.name': 'paysaga-worker' });
  return { exporter: makeWorkflowExporter(processor, resource) } as unknown as InjectedSinks<never>;
}

/** Starts a server span for a request, continuing the caller's trace from its headers. */
export function startRequestSpan(
  tracer: Tracer,
  name: string,
  headers: Record<string, string | string[] | undefined>,
): { span: Span; run: <T>(fn: () => T) => T } {
  const parent = propagation.extract(ROOT_CONTEXT, headers);
  const span = tracer.startSpan(name, { kind: SpanKind.SERVER }, parent);
  const ctx = trace.setSpan(parent, span);
  return { span, run: (fn) => context.with(ctx, fn) };
}
