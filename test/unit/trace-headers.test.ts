import { TRACE_HEADER as OTEL_TRACE_HEADER } from '@temporalio/interceptors-opentelemetry/lib/instrumentation.js';
import type { Payload } from '@temporalio/common';
import type { ActivityInput, LocalActivityInput } from '@temporalio/workflow';
import { describe, expect, it } from 'vitest';
import { interceptors, TRACE_HEADER } from '../../src/workflows/trace-headers.js';

const payload = (text: string): Payload => ({ data: new TextEncoder().encode(text) });

describe('trace propagation in the workflow bundle', () => {
  it("uses OpenTelemetry's header, so its activity interceptor reads what the workflow passes on", () => {
    expect(TRACE_HEADER).toBe(OTEL_TRACE_HEADER);
  });

  it("puts the start's trace context on every activity and local activity the workflow schedules", async () => {
    const { inbound, outbound } = interceptors();
    const trace = payload('{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}');
    await inbound![0]!.execute!(
      { args: [], headers: { [TRACE_HEADER]: trace, other: payload('x') } },
      async () => 'done',
    );

    const seen: Record<string, Payload>[] = [];
    const next = async (input: ActivityInput | LocalActivityInput) => {
      seen.push(input.headers);
      return undefined;
    };
    await outbound![0]!.scheduleActivity!({ headers: {} } as ActivityInput, next);
    await outbound![0]!.scheduleLocalActivity!(
      { headers: { mine: payload('y') } } as unknown as LocalActivityInput,
      next,
    );
    expect(seen).toEqual([{ [TRACE_HEADER]: trace }, { mine: payload('y'), [TRACE_HEADER]: trace }]);
  });

  it('leaves an activity alone when the start carried no trace, or the activity has its own', async () => {
    const { inbound, outbound } = interceptors();
    await inbound![0]!.execute!({ args: [], headers: {} }, async () => undefined);
    const input = { headers: {} } as ActivityInput;
    let passed: ActivityInput | undefined;
    await outbound![0]!.scheduleActivity!(input, async (each) => (passed = each));
    expect(passed).toBe(input);

    const traced = interceptors();
    await traced.inbound![0]!.execute!(
      { args: [], headers: { [TRACE_HEADER]: payload('a') } },
      async () => undefined,
    );
    const own = { headers: { [TRACE_HEADER]: payload('b') } } as unknown as ActivityInput;
    await traced.outbound![0]!.scheduleActivity!(own, async (each) => (passed = each));
    expect(passed).toBe(own);
  });
});
