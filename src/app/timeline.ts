import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { optionalTsToMs } from '@temporalio/common/lib/time.js';
import type { temporal } from '@temporalio/proto';
import type { Activities } from '../activities/index.js';
import type { Config } from '../config.js';
import type { PaymentService } from './payments.js';
import type { TemporalGateway } from './temporal.js';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/**
 * What an operator reads event by event in the Web UI, as steps: each activity (local ones
 * too: Paysaga runs its ledger, persistence and gateway steps as local activities, recorded as
 * markers) with its attempts, duration and failure; each wait (a timer, e.g. for 3-D Secure or
 * for a retry's backoff) and how it ended; each update and signal. Tenants read it, so it leaves
 * out what only an operator may see, which the Web UI shows: who sent an update or signal (a
 * process and host name) and the text of a failure (an internal address, a driver's message).
 */
export interface TimelineStep {
  kind: 'workflow' | 'activity' | 'timer' | 'update' | 'signal';
  /** The operator's name of the step: hold, authorize, 3-D Secure re-read, capture, ... */
  step: string;
  /** The activity type, update or signal name, or the workflow event. */
  name: string;
  startedAt: string;
  endedAt?: string | undefined;
  durationMs?: number | undefined;
  /** Attempts an activity took (the last attempt's number). */
  attempts?: number | undefined;
  outcome:
    | 'started'
    | 'completed'
    | 'failed'
    | 'timed_out'
    | 'canceled'
    | 'fired'
    | 'running'
    | 'accepted'
    | 'received';
  /** What kind of failure, in generic words ({@link FAILURE_DESCRIPTIONS}). */
  failure?: string | undefined;
  /** The failure's type, when the step raised one of Paysaga's (`GatewayRequestError`, `InsufficientFunds`...). */
  failureType?: string | undefined;
  /** Undoes an earlier step (the saga's compensation). */
  compensation?: boolean | undefined;
  /** A timer's length. */
  timeoutMs?: number | undefined;
}

interface ActivityStep {
  step: string;
  compensation?: boolean;
}

/**
 * Paysaga's activity types as an operator names the step; `compensation` marks the saga's undo
 * steps. Keyed by the worker's own activities: renaming or adding one does not build until it
 * is named here too.
 */
const ACTIVITY_STEPS = {
  holdWallet: { step: 'hold' },
  payFromWallet: { step: 'wallet payment' },
  authorizeCard: { step: 'authorize' },
  getAuthorization: { step: '3-D Secure re-read' },
  // An authorization whose answer never came, looked up before the payment tries another connector.
  findAuthorization: { step: 'authorization lookup' },
  captureCard: { step: 'capture' },
  // A sale was captured with its authorization: this records it (ledger and payment).
  settleCardPayment: { step: 'record sale' },
  postWalletHold: { step: 'capture (wallet)' },
  systemTransfer: { step: 'settle (ledger)' },
  voidWalletHold: { step: 'void wallet hold', compensation: true },
  voidCard: { step: 'void card authorization', compensation: true },
  recordPayment: { step: 'record' },
  publishEvent: { step: 'publish event' },
  refundCard: { step: 'refund' },
  reserveRefund: { step: 'reserve refund' },
  settleRefund: { step: 'settle refund' },
  markRefundPending: { step: 'refund pending' },
  // A payment's first write: it claims the order, or finds the payment an earlier run made.
  claimPayment: { step: 'claim order' },
  creditWallet: { step: 'credit wallet' },
  debitWallet: { step: 'take the automatic top-up back', compensation: true },
  planAutoTopUp: { step: 'automatic top-up check' },
  settleAutoTopUp: { step: 'automatic top-up recorded' },
  announceCheckoutSession: { step: 'announce checkout session' },
  completeCheckoutSession: { step: 'complete checkout session' },
  expireCheckoutSession: { step: 'expire checkout session' },
  expireGatewayCheckoutSession: { step: 'expire gateway checkout page' },
} satisfies Record<keyof Activities, ActivityStep>;

const iso = (ms: number | undefined) => (ms === undefined ? '' : new Date(ms).toISOString());

function decode(payload: Payload | null | undefined): unknown {
  if (!payload) return undefined;
  try {
    return defaultPayloadConverter.fromPayload(payload);
  } catch {
    return undefined;
  }
}

/** The words a tenant reads for each kind of failure. */
export const FAILURE_DESCRIPTIONS = {
  timeout: 'timed out',
  canceled: 'canceled',
  terminated: 'terminated by an operator',
  error: 'failed',
} as const;

/** A failure as a tenant may read it: its kind and type, never its message. */
function failureOf(
  failure: temporal.api.failure.v1.IFailure | null | undefined,
): Pick<TimelineStep, 'failure' | 'failureType'> {
  if (!failure) return {};
  // The cause is the activity's own error; the outer failure only says "activity failed".
  const inner = failure.cause ?? failure;
  if (inner.timeoutFailureInfo) return { failure: FAILURE_DESCRIPTIONS.timeout };
  if (inner.canceledFailureInfo) return { failure: FAILURE_DESCRIPTIONS.canceled };
  if (inner.terminatedFailureInfo) return { failure: FAILURE_DESCRIPTIONS.terminated };
  const type = inner.applicationFailureInfo?.type;
  return { failure: FAILURE_DESCRIPTIONS.error, ...(type ? { failureType: type } : {}) };
}

/** A type no worker has now (a history recorded by an older one) keeps its own name. */
function activityStep(type: string): ActivityStep {
  const steps: Record<string, ActivityStep> = ACTIVITY_STEPS;
  return steps[type] ?? { step: type };
}

/** The local activity marker's data (the SDK core's `LocalActivityMarkerData`). */
interface LocalActivityMarker {
  activity_type?: string;
  attempt?: number;
  original_schedule_time?: { seconds?: number | string; nanos?: number } | null;
}

const markerTime = (ts: LocalActivityMarker['original_schedule_time'] | undefined) =>
  ts?.seconds === undefined ? undefined : Number(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);

/** A workflow history (oldest event first) as the steps of its timeline, in the order they started. */
export function timelineOf(events: readonly HistoryEvent[]): TimelineStep[] {
  const steps: TimelineStep[] = [];
  const activities = new Map<string, TimelineStep>();
  const timers = new Map<string, TimelineStep>();
  const updates = new Map<string, TimelineStep>();
  // A local activity's marker is written when its workflow task completes; it started when that
  // task started.
  let taskStartedMs: number | undefined;
  function close(step: TimelineStep, atMs: number | undefined, outcome: TimelineStep['outcome']) {
    step.endedAt = iso(atMs);
    step.outcome = outcome;
    if (atMs !== undefined) step.durationMs = Math.max(0, atMs - Date.parse(step.startedAt));
  }

  // Local activities are recorded as markers when their workflow task completes, each with the
  // time it was scheduled: one ends when the next of the same task is scheduled, the last when
  // the task completed (its marker's time).
  let openLocal: TimelineStep[] = [];
  let lastMarkerMs: number | undefined;
  const closeLocal = () => {
    const last = openLocal.at(-1);
    if (last) close(last, lastMarkerMs, last.outcome);
    openLocal = [];
  };

  for (const event of events) {
    const at = optionalTsToMs(event.eventTime);
    const id = String(event.eventId ?? '');
    if (!event.markerRecordedEventAttributes) closeLocal();
    if (event.workflowTaskStartedEventAttributes) taskStartedMs = at;
    else if (event.workflowExecutionStartedEventAttributes) {
      steps.push({
        kind: 'workflow',
        step: 'start',
        name: event.workflowExecutionStartedEventAttributes.workflowType?.name ?? 'workflow',
        startedAt: iso(at),
        outcome: 'started',
      });
    } else if (event.markerRecordedEventAttributes?.markerName === 'core_local_activity') {
      const attrs = event.markerRecordedEventAttributes;
      const data = decode(attrs.details?.data?.payloads?.[0]) as LocalActivityMarker | undefined;
      const type = data?.activity_type ?? 'local activity';
      const started = markerTime(data?.original_schedule_time) ?? taskStartedMs ?? at;
      // The previous local activity of the same workflow task ended when this one was scheduled.
      const previous = openLocal.at(-1);
      if (previous && started !== undefined) close(previous, started, previous.outcome);
      const { step, compensation } = activityStep(type);
      const entry: TimelineStep = {
        kind: 'activity',
        step,
        name: type,
        startedAt: iso(started),
        attempts: data?.attempt,
        outcome: attrs.failure ? 'failed' : 'completed',
        ...failureOf(attrs.failure),
        ...(compensation ? { compensation } : {}),
      };
      openLocal.push(entry);
      lastMarkerMs = at;
      steps.push(entry);
      continue;
    } else if (event.activityTaskScheduledEventAttributes) {
      const type = event.activityTaskScheduledEventAttributes.activityType?.name ?? 'activity';
      const { step, compensation } = activityStep(type);
      const entry: TimelineStep = {
        kind: 'activity',
        step,
        name: type,
        startedAt: iso(at),
        outcome: 'running',
        ...(compensation ? { compensation } : {}),
      };
      activities.set(id, entry);
      steps.push(entry);
    } else if (event.activityTaskStartedEventAttributes) {
      const attrs = event.activityTaskStartedEventAttributes;
      const entry = activities.get(String(attrs.scheduledEventId ?? ''));
      if (entry) {
        entry.attempts = attrs.attempt ?? undefined;
        // The failure of the attempt before the last: what made it retry.
        if (attrs.lastFailure) Object.assign(entry, failureOf(attrs.lastFailure));
      }
    } else if (event.activityTaskCompletedEventAttributes) {
      const entry = activities.get(String(event.activityTaskCompletedEventAttributes.scheduledEventId ?? ''));
      if (entry) close(entry, at, 'completed');
    } else if (event.activityTaskFailedEventAttributes) {
      const attrs = event.activityTaskFailedEventAttributes;
      const entry = activities.get(String(attrs.scheduledEventId ?? ''));
      if (entry) {
        close(entry, at, 'failed');
        Object.assign(entry, failureOf(attrs.failure));
      }
    } else if (event.activityTaskTimedOutEventAttributes) {
      const entry = activities.get(String(event.activityTaskTimedOutEventAttributes.scheduledEventId ?? ''));
      if (entry) close(entry, at, 'timed_out');
    } else if (event.timerStartedEventAttributes) {
      const attrs = event.timerStartedEventAttributes;
      const timeoutMs =
        attrs.startToFireTimeout?.seconds !== undefined && attrs.startToFireTimeout.seconds !== null
          ? Number(attrs.startToFireTimeout.seconds) * 1000 +
            Math.floor((attrs.startToFireTimeout.nanos ?? 0) / 1e6)
          : undefined;
      const entry: TimelineStep = {
        kind: 'timer',
        step: 'wait',
        name: 'timer',
        startedAt: iso(at),
        outcome: 'running',
        timeoutMs,
      };
      timers.set(String(attrs.timerId ?? ''), entry);
      steps.push(entry);
    } else if (event.timerFiredEventAttributes) {
      const entry = timers.get(String(event.timerFiredEventAttributes.timerId ?? ''));
      if (entry) close(entry, at, 'fired');
    } else if (event.timerCanceledEventAttributes) {
      const entry = timers.get(String(event.timerCanceledEventAttributes.timerId ?? ''));
      // Canceled: what it waited for happened first (a webhook, a capture, a cancel).
      if (entry) close(entry, at, 'canceled');
    } else if (event.workflowExecutionSignaledEventAttributes) {
      const attrs = event.workflowExecutionSignaledEventAttributes;
      steps.push({
        kind: 'signal',
        step: 'signal',
        name: attrs.signalName ?? 'signal',
        startedAt: iso(at),
        outcome: 'received',
      });
    } else if (event.workflowExecutionUpdateAcceptedEventAttributes) {
      const request = event.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest;
      const entry: TimelineStep = {
        kind: 'update',
        step: 'update',
        name: request?.input?.name ?? 'update',
        startedAt: iso(at),
        outcome: 'accepted',
      };
      updates.set(request?.meta?.updateId ?? id, entry);
      steps.push(entry);
    } else if (event.workflowExecutionUpdateCompletedEventAttributes) {
      const attrs = event.workflowExecutionUpdateCompletedEventAttributes;
      const entry = updates.get(attrs.meta?.updateId ?? '');
      if (entry) {
        close(entry, at, attrs.outcome?.failure ? 'failed' : 'completed');
        Object.assign(entry, failureOf(attrs.outcome?.failure));
      }
    } else if (event.workflowExecutionCompletedEventAttributes) {
      steps.push({
        kind: 'workflow',
        step: 'end',
        name: 'completed',
        startedAt: iso(at),
        outcome: 'completed',
      });
    } else if (event.workflowExecutionFailedEventAttributes) {
      steps.push({
        kind: 'workflow',
        step: 'end',
        name: 'failed',
        startedAt: iso(at),
        outcome: 'failed',
        ...failureOf(event.workflowExecutionFailedEventAttributes.failure),
      });
    } else if (event.workflowExecutionContinuedAsNewEventAttributes) {
      steps.push({
        kind: 'workflow',
        step: 'end',
        name: 'continued as new',
        startedAt: iso(at),
        outcome: 'completed',
      });
    }
  }
  closeLocal();
  return steps;
}

/** The run's page in the Temporal Web UI. */
export function webUiUrl(base: string, namespace: string, workflowId: string, runId: string): string {
  return `${base.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}/history`;
}

export interface PaymentTimeline {
  paymentId: string;
  workflowId: string;
  runId: string;
  workflowStatus: string;
  webUiUrl: string;
  /** The connectors the payment went to, attempt by attempt (a failover is an attempt of its own). */
  route: { attempt: number; connector: string; status: string; failureCode?: string }[];
  steps: TimelineStep[];
}

/** A payment's steps, read from its workflow's history (not from Paysaga's tables). */
export class TimelineService {
  constructor(
    private readonly payments: Pick<PaymentService, 'get'>,
    private readonly temporal: TemporalGateway,
    private readonly config: Pick<Config, 'syncWaitMs' | 'temporalUiUrl' | 'temporalNamespace'>,
  ) {}

  async get(tenantId: string, paymentId: string): Promise<PaymentTimeline> {
    const payment = await this.payments.get(tenantId, paymentId);
    const [description, history] = await this.temporal.run(Date.now() + this.config.syncWaitMs, (client) => {
      const handle = client.workflow.getHandle(payment.workflowId);
      return Promise.all([handle.describe(), handle.fetchHistory()]);
    });
    return {
      paymentId: payment.id,
      workflowId: payment.workflowId,
      runId: description.runId,
      workflowStatus: description.status.name,
      webUiUrl: webUiUrl(
        this.config.temporalUiUrl,
        this.config.temporalNamespace,
        payment.workflowId,
        description.runId,
      ),
      route: payment.attempts.map(({ number, connector, status, failureCode }) => ({
        attempt: number,
        connector,
        status,
        ...(failureCode ? { failureCode } : {}),
      })),
      steps: timelineOf(history.events ?? []),
    };
  }
}
