import type { Payload } from '@temporalio/common';
import type { ActivityInput, LocalActivityInput, WorkflowInterceptorsFactory } from '@temporalio/workflow';

/**
 * The header in which `@temporalio/interceptors-opentelemetry` carries a trace context
 * (its `TRACE_HEADER`; a unit test holds the two equal without bundling OpenTelemetry here).
 */
export const TRACE_HEADER = '_tracer-data';

/**
 * Trace propagation without spans in the workflow: the trace context the API put on the
 * workflow's start goes, unchanged, on every activity the workflow schedules, so the activity's
 * span (and its log lines) continue the request's trace.
 *
 * This is what a worker bundles when no spans are exported (src/tracing.ts). OpenTelemetry's own
 * workflow interceptors also make a span per workflow run and per activity call inside the
 * sandbox: measured, they took about 40 % of the workflow thread per payment, for spans that are
 * then dropped. With an OTLP endpoint configured the worker bundles those instead.
 */
export const interceptors: WorkflowInterceptorsFactory = () => {
  let trace: Payload | undefined;
  const carry = <T extends ActivityInput | LocalActivityInput>(input: T): T =>
    trace && !input.headers[TRACE_HEADER]
      ? { ...input, headers: { ...input.headers, [TRACE_HEADER]: trace } }
      : input;
  return {
    inbound: [
      {
        execute(input, next) {
          trace = input.headers[TRACE_HEADER];
          return next(input);
        },
      },
    ],
    outbound: [
      {
        scheduleActivity: (input, next) => next(carry(input)),
        scheduleLocalActivity: (input, next) => next(carry(input)),
      },
    ],
  };
};
