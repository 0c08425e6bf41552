import {
  isGrpcDeadlineError,
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  WorkflowUpdateStage,
  type Client,
  type WorkflowHandle,
  type WorkflowStartOptions,
  type WorkflowUpdateHandle,
} from '@temporalio/client';
import { ApplicationFailure, TypedSearchAttributes } from '@temporalio/common';
import type { Config } from '../config.js';
import { paymentIdFor } from '../payment-id.js';
import type { Executor } from '../db/client.js';
import {
  findOrderForPayment,
  findPayment,
  findPaymentByOrder,
  findPaymentForWebhook,
  listPayments,
  type OrderForPayment,
} from '../db/payments.js';
import { findAutoTopUp } from '../db/auto-top-ups.js';
import { connectorAmountRefusal } from '../gateway/amount-rules.js';
import type { ConnectorRegistry } from '../gateway/registry.js';
import { ErrorType } from '../domain/errors.js';
import { boundedWorkflowId, paymentWorkflowId } from '../domain/ids.js';
import { ORDER_REPLY_METADATA } from '../domain/order-replies.js';
import {
  initialPaymentView,
  isSettled,
  type PaymentRequest,
  type PaymentStatus,
  type PaymentView,
} from '../domain/payment.js';
import { returnUrlRefusal } from '../domain/return-url.js';
import { assertWalletCurrency, assertWalletHolds } from './wallets.js';
import type { PaymentMethodService } from './payment-methods.js';
import type { PaymentMethodInput } from './schemas.js';
import {
  attemptUpdate,
  cancelUpdate,
  captureUpdate,
  completeActionUpdate,
  SearchAttributes,
  settledUpdate,
  statusQuery,
  TASK_QUEUE,
  type AttemptPolicy,
  type AttemptRequest,
  type PaymentWorkflowInput,
} from '../workflows/contract.js';
import { paymentWorkflow } from '../workflows/payment.js';
import { canonicalJson, sha256 } from '../hash.js';
import { outageOf } from './dependencies.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { AppError } from './errors.js';
import { ReturnLinks } from './return-links.js';
import { isClosedWorkflow, retryingStartRaces, type TemporalGateway } from './temporal.js';
import { withTimeout } from './with-timeout.js';
import type { SettledPayments } from '../events/settled.js';

/** With `Prefer: respond-async`, how long to wait for the workflow to accept the request. */
const ASYNC_ACCEPT_MS = 3_000;
/** The payment ids a list holds (`pay_` and hex). */
const PAYMENT_ID = /^pay_[0-9a-f]{1,64}$/;
/** Reads and checks that should answer at once. */
const QUICK_CALL_MS = 2_000;
/**
 * How long the return page waits for the workflow to re-read the gateway: a customer's browser
 * is waiting, and a payment still moving after it is shown as processing.
 */
const RETURN_WAIT_MS = 5_000;
/** How often an accepted attempt is looked at until the workflow has begun it. */
const ATTEMPT_POLL_MS = 20;
/**
 * How long an eagerly started payment is waited for in its own process (co-located mode) before
 * the update asks the workflow too: a wallet payment settles here within milliseconds.
 */
const EAGER_LOCAL_WAIT_MS = 2_000;

export interface CreateOutcome {
  payment: PaymentView;
  /** The payment had not reached a settled status within the wait. */
  pending: boolean;
  /** The workflow run the request reached (from the update, else from the workflow's description). */
  runId?: string | undefined;
  /** Temporal answered the start with the workflow's first task, run by this process (co-located mode). */
  eager?: true | undefined;
}

export { paymentIdFor };

/**
 * The request as the caller gave it: a saved card is hashed by the id the caller named (or its
 * absence), not by what it resolved to, so a repeated request matches however the card was found.
 */
export type CallerPaymentRequest = Omit<PaymentRequest, 'method'> & { method: PaymentMethodInput };

export function requestHashOf(request: CallerPaymentRequest): string {
  return sha256(canonicalJson(request));
}

/** A payment to create: the parameters a repeated request must match, and what may differ. */
export type CreatePaymentRequest = CallerPaymentRequest & {
  /** The merchant's page the customer returns to after 3-D Secure. */
  returnUrl?: string | undefined;
};
/** The request without its method: what every attempt at paying the order must repeat. */
export function baseRequestHashOf(request: Omit<PaymentRequest, 'method'> & { method: unknown }): string {
  const { method: _method, ...base } = request;
  return sha256(canonicalJson(base));
}

/** The request of a stored payment, paid with `method`: what a new attempt on it asks for. */
function requestOf(payment: PaymentView, method: PaymentMethodInput): CallerPaymentRequest {
  return {
    orderId: payment.orderId,
    customerId: payment.customerId,
    amount: payment.amount,
    currency: payment.currency,
    method,
    capture: payment.capture,
    description: payment.description,
    metadata: payment.metadata,
    ...(payment.country ? { country: payment.country } : {}),
  };
}

export class PaymentService {
  private readonly returnLinks: ReturnLinks;

  constructor(
    private readonly db: Executor,
    private readonly temporal: TemporalGateway,
    /** Cards customers saved: what a `saved` method (or a split with `paymentMethodId`) charges. */
    private readonly savedMethods: Pick<PaymentMethodService, 'resolve'>,
    /** Which connectors a payment is tried on (the tenant's routing rules). */
    private readonly connectors: Pick<ConnectorRegistry, 'routeFor' | 'connectorFor'>,
    private readonly config: Pick<
      Config,
      | 'timeouts'
      | 'syncWaitMs'
      | 'publicUrl'
      | 'defaultConnector'
      | 'tenantConnectors'
      | 'returnUrlSecret'
      | 'returnUrlAllowHttpLoopback'
      | 'attemptWindowMs'
      | 'singleAttemptTenants'
    >,
    /**
     * The payments this process's own worker settles (the co-located mode): a waiting payment
     * is then started eagerly and answered from here.
     */
    private readonly settled?: SettledPayments,
  ) {
    this.returnLinks = new ReturnLinks(config.publicUrl, config.returnUrlSecret);
  }

  /**
   * Update-with-start: starts `payment:{tenant}:{order}` (or attaches to it when it is already
   * running) and waits in the same round trip for the first settled status. Concurrent identical
   * requests all attach to one workflow, so the order is charged once. An order PostgreSQL holds
   * a settled payment for is answered from it without Temporal, which may have deleted its
   * closed workflow (retention) and would otherwise run it again.
   */
  async create(
    tenantId: string,
    { returnUrl: merchantReturnUrl, ...asked }: CreatePaymentRequest,
    options: {
      wait: boolean;
      /** Where the gateway sends the customer after 3-D Secure (a checkout session's own route). */
      gatewayReturnUrl?: string | undefined;
      /** The checkout session the payment is made from: the workflow tells it how the payment ended. */
      checkoutSessionId?: string | undefined;
      /** The customer paid on the gateway's hosted page: the charge the payment records. */
      paidOnGateway?: { authorizationId: string } | undefined;
      /** A decline ends the payment whatever the tenant's policy (a saga with no customer to ask). */
      singleAttempt?: boolean | undefined;
    },
  ): Promise<CreateOutcome> {
    this.assertReturnUrlAllowed(merchantReturnUrl);
    // PostgreSQL unreachable: the workflow's first write claims the order and stops on a payment
    // an earlier run made, so the charge stays single and a card payment is still taken.
    const find = (walletOf?: string) =>
      findOrderForPayment(this.db, tenantId, asked.orderId, walletOf).catch((error: unknown) => {
        if (outageOf(error) === 'postgres') return undefined;
        throw error;
      });
    // The wallet's currencies and automatic top-up come with the order's payment (one round trip).
    const read = await find(paysFromWallet(asked.method) ? asked.customerId : undefined);
    let stored = read?.payment;
    // Declined for a reason the customer can fix: this request is the order's next attempt.
    if (stored?.status === 'requires_payment_method') {
      const outcome = await this.runAttempt(stored, asked, {
        ...options,
        returnUrl: merchantReturnUrl,
      }).catch((error: unknown) => {
        if (error instanceof AppError && error.code === 'invalid_state') return undefined;
        throw error;
      });
      if (outcome) return outcome;
      // A concurrent request's attempt (or a cancel) came first: answer as any request for the order.
      // Still waiting for that attempt, the workflow tells whether this request is the same one.
      stored = (await find())?.payment;
    }
    if (
      stored &&
      stored.status !== 'requires_payment_method' &&
      (stored.requestHash !== requestHashOf(asked) || isSettled(stored.status))
    )
      return this.existing(stored, asked);
    const request = await this.resolved(tenantId, asked);
    // The route is decided once: the amount check and the workflow's input both use it.
    const route = this.routeOf(tenantId, request);
    this.assertGatewayCarries(route.connector, request);
    const autoTopUp = await this.walletChecks(tenantId, request, read?.wallet);
    const workflowId = boundedWorkflowId(paymentWorkflowId(tenantId, request.orderId));
    const paymentId = paymentIdFor(tenantId, request.orderId);
    const input: PaymentWorkflowInput = {
      paymentId,
      tenantId,
      request,
      requestHash: requestHashOf(asked),
      timeouts: this.config.timeouts,
      // The customer's browser comes back without an API key: a signed page of its own, or the
      // checkout session's route.
      returnUrl: options.gatewayReturnUrl ?? this.returnLinks.linkFor(paymentId),
      merchantReturnUrl,
      ...route,
      ...(options.checkoutSessionId ? { checkoutSessionId: options.checkoutSessionId } : {}),
      ...(autoTopUp ? { autoTopUp } : {}),
      // A charge made on the gateway's page is the payment's only one: no other attempt follows.
      ...(options.paidOnGateway
        ? { paidOnGateway: options.paidOnGateway }
        : { attempts: options.singleAttempt ? undefined : this.attemptPolicy(tenantId, request) }),
    };
    const startOptions = {
      workflowId,
      taskQueue: TASK_QUEUE,
      args: [input] as [PaymentWorkflowInput],
      workflowIdConflictPolicy: 'USE_EXISTING',
      // A finished payment is never run again for the same order.
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: new TypedSearchAttributes([
        { key: SearchAttributes.TenantId, value: tenantId },
        { key: SearchAttributes.OrderId, value: request.orderId },
        { key: SearchAttributes.CustomerId, value: request.customerId },
        { key: SearchAttributes.PaymentStatus, value: 'processing' },
        { key: SearchAttributes.AmountMinor, value: request.amount },
        { key: SearchAttributes.Currency, value: request.currency },
      ]),
    } satisfies WorkflowStartOptions<typeof paymentWorkflow>;
    // Without a worker the update is never accepted (nor, for a caller that waits, completed);
    // the start is durable all the same, so after the wait the answer is 202 and the payment runs
    // once a worker is back.
    const deadline = Date.now() + (options.wait ? this.config.syncWaitMs : ASYNC_ACCEPT_MS);
    if (options.wait && this.settled)
      return this.startEagerly(this.settled, startOptions, input, request, deadline);
    // A caller that waits asks for the update's completion in the same call: Temporal answers the
    // start with the outcome when the payment settles meanwhile (a wallet payment does, in its
    // first workflow task), and the result below needs no second call that polls for it. The
    // SDK's type allows only ACCEPTED here; its own executeUpdateWithStart passes COMPLETED this
    // way, but keeps the handle (and the run id) to itself.
    const stage = options.wait ? WorkflowUpdateStage.COMPLETED : WorkflowUpdateStage.ACCEPTED;
    let update;
    try {
      update = await this.temporal.run(deadline, (client) =>
        retryingStartRaces(() =>
          client.workflow.startUpdateWithStart(settledUpdate, {
            args: [{ requestHash: input.requestHash }],
            waitForStage: stage as typeof WorkflowUpdateStage.ACCEPTED,
            startWorkflowOperation: new WithStartWorkflowOperation(paymentWorkflow, startOptions),
          }),
        ),
      );
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError)
        return this.existing(await findPaymentByOrder(this.db, tenantId, request.orderId), request);
      // Not accepted (or, for a caller that waits, not completed) within the wait: the SDK
      // reports the deadline either way.
      if (isGrpcDeadlineError(error) || error instanceof WorkflowUpdateRPCTimeoutOrCancelledError)
        return this.startedWithoutAnswer(input, workflowId);
      throw translate(error);
    }
    return this.answerOf(update, input, deadline, options.wait);
  }

  /**
   * The co-located mode (this process runs the worker too, src/colocated/main.ts): a plain start
   * that asks Temporal for the workflow's first task in its answer, which this process's worker
   * runs at once, without a round trip through Temporal's matching. The payment's first settled
   * state comes from the activity that writes it, in this process (`SettledPayments`): a wallet
   * payment settles in that first task, so the request asks Temporal nothing more. A start that
   * is not eager (the order's workflow runs already, or Temporal kept the task) waits for the
   * outcome through the update, as any process does.
   */
  private async startEagerly(
    settled: SettledPayments,
    startOptions: WorkflowStartOptions<typeof paymentWorkflow>,
    input: PaymentWorkflowInput,
    request: PaymentRequest,
    deadline: number,
  ): Promise<CreateOutcome> {
    const { workflowId } = startOptions;
    // Before the start: the worker may record the payment before the start's answer is read.
    const watch = settled.watch(input.paymentId);
    try {
      let started;
      try {
        started = await this.temporal.run(deadline, (client) =>
          client.workflow.start(paymentWorkflow, { ...startOptions, requestEagerStart: true }),
        );
      } catch (error) {
        if (error instanceof WorkflowExecutionAlreadyStartedError)
          return this.existing(await findPaymentByOrder(this.db, input.tenantId, request.orderId), request);
        if (isGrpcDeadlineError(error)) return this.startedWithoutAnswer(input, workflowId);
        throw translate(error);
      }
      if (!started.eagerlyStarted) return await this.settledThroughUpdate(started, input, request, deadline);
      // An earlier run's payment (Temporal had forgotten the order's workflow) is the answer only
      // to the same request, as the update would have it.
      const answer = (view: PaymentView): CreateOutcome => {
        if (view.requestHash !== input.requestHash) throw orderAlreadyPaid(request.orderId);
        return { payment: view, pending: false, runId: started.firstExecutionRunId, eager: true };
      };
      const here = await withTimeout(watch.settled, Math.min(EAGER_LOCAL_WAIT_MS, deadline - Date.now()));
      if (here) return answer(here);
      // Not settled here yet: the payment may go on in another process (a workflow task retried
      // or taken from an evicted cache elsewhere) or just be slow. The update answers wherever it
      // settles; this process's write still answers first if it comes first.
      const elsewhere = this.settledThroughUpdate(started, input, request, deadline);
      elsewhere.catch(() => undefined);
      return await Promise.race([elsewhere, watch.settled.then(answer)]);
    } finally {
      watch.stop();
    }
  }

  /** The first settled state of an order's started workflow, from the update (`settledUpdate`). */
  private async settledThroughUpdate(
    started: WorkflowHandle<typeof paymentWorkflow>,
    input: PaymentWorkflowInput,
    request: PaymentRequest,
    deadline: number,
  ): Promise<CreateOutcome> {
    let update;
    try {
      update = await this.temporal.run(deadline, () =>
        started.startUpdate(settledUpdate, {
          args: [{ requestHash: input.requestHash }],
          waitForStage: WorkflowUpdateStage.COMPLETED as typeof WorkflowUpdateStage.ACCEPTED,
        }),
      );
    } catch (error) {
      // The order's workflow closed since the start found it running: its payment is stored.
      if (isClosedWorkflow(error))
        return this.existing(await findPaymentByOrder(this.db, input.tenantId, request.orderId), request);
      if (isGrpcDeadlineError(error) || error instanceof WorkflowUpdateRPCTimeoutOrCancelledError)
        return this.startedWithoutAnswer(input, started.workflowId);
      throw translate(error);
    }
    return this.answerOf(update, input, deadline, true);
  }

  /** A payment's answer from its update (`settledUpdate`, asked to complete when `wait`). */
  private async answerOf(
    update: WorkflowUpdateHandle<PaymentView>,
    input: PaymentWorkflowInput,
    deadline: number,
    wait: boolean,
  ): Promise<CreateOutcome> {
    const { workflowId } = update;
    // A rejected update (the order is running with other parameters) comes back as a handle
    // whose result is the rejection: known at once, so even an async caller gets its conflict.
    // Its outcome is waited for until the deadline at most (undefined after it).
    const result = this.temporal
      .waitUntil(deadline, () => update.result())
      .catch((error: unknown) => {
        throw translate(error);
      });
    if (!wait) {
      // Throws a rejection that is known already; does not wait for the payment to settle.
      await withTimeout(
        result.then(() => undefined),
        0,
      );
      return { payment: await this.current(workflowId, input), pending: true, runId: update.workflowRunId };
    }
    // The update was asked to complete: its outcome came with the answer, and the result needs no call.
    const settled = await result;
    if (settled) return { payment: settled, pending: false, runId: update.workflowRunId };
    return { payment: await this.current(workflowId, input), pending: true, runId: update.workflowRunId };
  }

  /** `POST /v1/payments/{id}/attempts`: a new attempt at a payment open for one, with `method`. */
  async attempt(
    tenantId: string,
    id: string,
    method: PaymentMethodInput,
    options: { wait: boolean; returnUrl?: string | undefined },
  ): Promise<CreateOutcome> {
    this.assertReturnUrlAllowed(options.returnUrl);
    const payment = await this.get(tenantId, id);
    if (payment.status !== 'requires_payment_method')
      throw new AppError(
        'conflict',
        'invalid_state',
        `a ${payment.status} payment is not open for a new attempt`,
      );
    return this.runAttempt(payment, requestOf(payment, method), options);
  }

  /**
   * Sends the attempt to the payment's running workflow, which checks that the request is the
   * payment's but for the method, and waits for its first settled status like a create.
   */
  private async runAttempt(
    payment: PaymentView,
    asked: CallerPaymentRequest,
    options: { wait: boolean; returnUrl?: string | undefined },
  ): Promise<CreateOutcome> {
    const request = await this.resolved(payment.tenantId, asked);
    await this.checkStoredWalletCurrency(payment.tenantId, request);
    const { connector, connectors } = this.routeOf(payment.tenantId, request);
    this.assertGatewayCarries(connector, request);
    const attempt: AttemptRequest = {
      method: request.method,
      requestHash: requestHashOf(asked),
      baseRequestHash: baseRequestHashOf(asked),
      returnUrl: options.returnUrl,
      ...(connectors ? { connectors } : {}),
    };
    const deadline = Date.now() + (options.wait ? this.config.syncWaitMs : ASYNC_ACCEPT_MS);
    let update;
    try {
      update = await this.temporal.run(deadline, (client) =>
        client.workflow.getHandle(payment.workflowId).startUpdate(attemptUpdate, {
          args: [attempt],
          waitForStage: WorkflowUpdateStage.ACCEPTED,
        }),
      );
    } catch (error) {
      if (isClosedWorkflow(error)) {
        // The attempt window closed meanwhile: the payment is failed (or canceled) for good.
        throw new AppError('conflict', 'invalid_state', 'the payment is no longer open for a new attempt');
      }
      throw translate(error);
    }
    const result = this.temporal
      .waitUntil(deadline, () => update.result())
      .catch((error: unknown) => {
        throw translate(error);
      });
    if (!options.wait) {
      // Throws a rejection that is known already; does not wait for the attempt to settle.
      const known = await withTimeout(result, 0);
      return {
        payment: known ?? (await this.begunAttempt(payment)),
        pending: true,
        runId: update.workflowRunId,
      };
    }
    const settled = await withTimeout(result, Math.max(0, deadline - Date.now()));
    if (settled) return { payment: settled, pending: false, runId: update.workflowRunId };
    return { payment: await this.begunAttempt(payment), pending: true, runId: update.workflowRunId };
  }

  /**
   * An accepted attempt that has not settled: the payment once the workflow has begun it (a
   * moment after accepting it), so the answer shows the new attempt, not the declined one.
   */
  private async begunAttempt(payment: PaymentView): Promise<PaymentView> {
    const until = Date.now() + QUICK_CALL_MS;
    try {
      for (;;) {
        const view = await this.temporal.run(Date.now() + QUICK_CALL_MS, (client) =>
          client.workflow.getHandle(payment.workflowId).query(statusQuery),
        );
        if (view.attempts.length > payment.attempts.length || Date.now() >= until) return view;
        await new Promise((resolve) => setTimeout(resolve, ATTEMPT_POLL_MS));
      }
    } catch (error) {
      if (!isGrpcDeadlineError(error)) throw error;
      return (await findPayment(this.db, payment.tenantId, payment.id)) ?? payment;
    }
  }

  /**
   * Attempts allowed unless the tenant keeps one attempt per order. A payment answered to an
   * order saga (a broker command) has one attempt too: its failure reply is final, and the saga
   * has no customer to ask for another card.
   */
  private attemptPolicy(tenantId: string, request: PaymentRequest): AttemptPolicy | undefined {
    if (this.config.singleAttemptTenants.has(tenantId)) return undefined;
    const [replyKey] = Object.keys(ORDER_REPLY_METADATA);
    if (replyKey !== undefined && request.metadata?.[replyKey] !== undefined) return undefined;
    return { windowMs: this.config.attemptWindowMs, baseRequestHash: baseRequestHashOf(request) };
  }

  async capture(tenantId: string, id: string, amount: number | undefined): Promise<PaymentView> {
    const payment = await this.get(tenantId, id);
    return this.send(payment, (client) =>
      client.workflow.getHandle(payment.workflowId).executeUpdate(captureUpdate, { args: [{ amount }] }),
    );
  }

  async cancel(tenantId: string, id: string): Promise<PaymentView> {
    const payment = await this.get(tenantId, id);
    return this.send(payment, (client) =>
      client.workflow.getHandle(payment.workflowId).executeUpdate(cancelUpdate),
    );
  }

  /**
   * The customer is back from 3-D Secure on the signed return link (`sig`): the payment it names,
   * or not_found for a link Paysaga did not sign (nothing said about whether the payment exists).
   * The gateway sends the browser back at once, possibly before its webhook reached Paysaga: a
   * payment still waiting for the customer is told to re-read the gateway (as the webhook would),
   * and one that moves on is waited for until its next settled status, for a bounded wait; the
   * payment is then read as stored (a status is stored before the workflow shows it).
   */
  async returnFromAction(paymentId: string, signature: string | undefined): Promise<PaymentView> {
    const notFound = new AppError('not_found', 'payment_not_found', 'no such payment');
    if (!this.returnLinks.verify(paymentId, signature)) throw notFound;
    const payment = await findPaymentForWebhook(this.db, paymentId);
    if (!payment) throw notFound;
    return this.afterCustomerAction(payment);
  }

  /**
   * The customer's browser is back from the gateway (3-D Secure): a payment still waiting for
   * the customer has its workflow re-read the gateway, as the webhook would, and one that moves
   * on is waited for until its next settled status, for at most `waitMs`; then it is read as
   * stored. The signed return page and a checkout session's return route both come here.
   */
  async afterCustomerAction(payment: PaymentView, waitMs = RETURN_WAIT_MS): Promise<PaymentView> {
    if (payment.status !== 'requires_action' && payment.status !== 'processing') return payment;
    const action = { authorizationId: payment.gatewayAuthorizationId ?? '' };
    try {
      await this.temporal.waitUntil(Date.now() + waitMs, async (client) => {
        const handle = client.workflow.getHandle(payment.workflowId);
        if (payment.status === 'requires_action') {
          const checked = await handle
            .executeUpdate(completeActionUpdate, { args: [action] })
            .catch((error: unknown) => {
              // The webhook got there first: the payment needs no action any more.
              if (error instanceof WorkflowUpdateFailedError) return undefined;
              throw error;
            });
          // Settled again: the gateway still waits for the customer, or the payment failed.
          if (checked && checked.status !== 'processing') return;
        }
        // Authorized and being captured: its next settled status comes in moments.
        await handle.executeUpdate(settledUpdate, { args: [{ requestHash: payment.requestHash }] });
      });
    } catch (error) {
      // The run has ended, the wait is over, or Temporal is out of reach (the webhook will move
      // the payment): the stored payment says where it is, which the customer is shown.
      const over =
        outageOf(error) === 'temporal' ||
        isClosedWorkflow(error) ||
        error instanceof WorkflowUpdateRPCTimeoutOrCancelledError ||
        error instanceof WorkflowUpdateFailedError;
      if (!over) throw error;
    }
    return (await findPaymentForWebhook(this.db, payment.id)) ?? payment;
  }

  /** Newest first, a page at a time; the cursor is opaque to callers. */
  async list(
    tenantId: string,
    query: {
      customerId?: string | undefined;
      status?: PaymentStatus | undefined;
      limit: number;
      cursor?: string | undefined;
    },
  ): Promise<{ data: PaymentView[]; nextCursor: string | null }> {
    const rows = await listPayments(this.db, tenantId, {
      ...query,
      after: decodeCursor(query.cursor, PAYMENT_ID),
    });
    const last = rows.length === query.limit ? rows[rows.length - 1] : undefined;
    return { data: rows, nextCursor: last ? encodeCursor(last.createdAt, last.id) : null };
  }

  /** The order's payment, if it has one. */
  async findByOrder(tenantId: string, orderId: string): Promise<PaymentView | undefined> {
    return findPaymentByOrder(this.db, tenantId, orderId);
  }

  async get(tenantId: string, id: string): Promise<PaymentView> {
    const payment = await findPayment(this.db, tenantId, id);
    if (!payment) throw new AppError('not_found', 'payment_not_found', `no payment ${id}`);
    return payment;
  }

  private async send(
    payment: PaymentView,
    call: (client: Client) => Promise<PaymentView>,
  ): Promise<PaymentView> {
    try {
      return await this.temporal.run(Date.now() + this.config.syncWaitMs, call);
    } catch (error) {
      if (isClosedWorkflow(error)) {
        throw new AppError(
          'conflict',
          'invalid_state',
          `the payment is ${payment.status} and accepts no more changes`,
        );
      }
      throw translate(error);
    }
  }

  /** A saved card named by the caller, looked up: the request the workflow runs. */
  private async resolved(tenantId: string, asked: CallerPaymentRequest): Promise<PaymentRequest> {
    const { method } = asked;
    if (method.type === 'saved' || (method.type === 'split' && method.paymentMethodId !== undefined))
      return { ...asked, method: await this.savedMethods.resolve(tenantId, asked.customerId, method) };
    if (method.type === 'split') return { ...asked, method: { type: 'split', token: method.token ?? '' } };
    return { ...asked, method };
  }

  /** The order has a payment already: answer from it as stored. */
  private existing(stored: PaymentView | undefined, request: CallerPaymentRequest): CreateOutcome {
    if (!stored)
      throw new Error(`payment workflow for order ${request.orderId} exists but no payment is stored`);
    if (stored.requestHash !== requestHashOf(request)) throw orderAlreadyPaid(request.orderId);
    return { payment: stored, pending: false };
  }

  /** The payment as stored, or as the workflow holds it before its first write. */
  private async current(workflowId: string, input: PaymentWorkflowInput): Promise<PaymentView> {
    const stored = await findPayment(this.db, input.tenantId, input.paymentId);
    if (stored) return stored;
    try {
      return await this.temporal.run(Date.now() + QUICK_CALL_MS, (client) =>
        client.workflow.getHandle(workflowId).query(statusQuery),
      );
    } catch (error) {
      if (!isGrpcDeadlineError(error)) throw error;
      return this.initialView(workflowId, input);
    }
  }

  /**
   * No answer within the wait: the update was not accepted (no worker is polling) or, for a
   * caller that waits, the payment has not settled yet. The workflow was started in the same call
   * unless Temporal refused it: its description confirms that and gives the run id for the logs.
   * A payment already stored is the answer even when that description does not come, and a
   * settled one (this request's) is final: 200, not 202.
   */
  private async startedWithoutAnswer(
    input: PaymentWorkflowInput,
    workflowId: string,
  ): Promise<CreateOutcome> {
    const stored = await findPayment(this.db, input.tenantId, input.paymentId);
    const described = this.temporal.run(Date.now() + QUICK_CALL_MS, (client) =>
      client.workflow.getHandle(workflowId).describe(),
    );
    if (!stored) {
      const { runId } = await described;
      return { payment: this.initialView(workflowId, input), pending: true, runId };
    }
    const runId = (await described.catch(() => undefined))?.runId;
    // Settled meanwhile (the write comes a moment before the workflow answers): the answer is final.
    const pending = !isSettled(stored.status) || stored.requestHash !== input.requestHash;
    return { payment: stored, pending, runId };
  }

  private initialView(workflowId: string, input: PaymentWorkflowInput): PaymentView {
    return initialPaymentView({ ...input, workflowId, now: new Date() });
  }

  /** The merchant's `returnUrl`: where the customer's browser is sent after 3-D Secure. */
  private assertReturnUrlAllowed(returnUrl: string | undefined): void {
    if (returnUrl === undefined) return;
    const refusal = returnUrlRefusal(returnUrl, {
      allowHttpLoopback: this.config.returnUrlAllowHttpLoopback,
    });
    if (refusal) throw new AppError('invalid', 'return_url_not_allowed', refusal);
  }

  /**
   * A card payment of an amount the tenant's gateway cannot carry (a fraction of an ariary on
   * Stripe) is refused as invalid before it starts, never rounded. A split's card part is known
   * only when the wallet has paid its share: the gateway's refusal then fails the payment.
   */
  private assertGatewayCarries(connector: string, request: PaymentRequest): void {
    if (request.method.type !== 'card' && request.method.type !== 'paypal') return;
    const refusal = connectorAmountRefusal(connector, request.amount, request.currency);
    if (refusal) throw new AppError('invalid', 'amount_not_supported', refusal);
  }

  /**
   * The connector a payment goes to and, when the tenant's rules give it fallbacks the card can
   * move to (a token of it there), its route. A wallet payment and a saved card stay on the
   * tenant's connector (a saved card exists on one gateway only). No connector of the tenant
   * taking the method is a 422.
   */
  private routeOf(tenantId: string, request: PaymentRequest): { connector: string; connectors?: string[] } {
    const { method } = request;
    if (method.type === 'wallet' || (method.type !== 'paypal' && method.saved))
      return { connector: this.connectors.connectorFor(tenantId) };
    const route = this.connectors.routeFor(tenantId, {
      method: method.type,
      currency: request.currency,
      amount: request.amount,
      country: request.country,
    });
    const [first] = route.connectors;
    if (first === undefined)
      throw new AppError(
        'invalid',
        'method_not_supported',
        `no connector of this account takes ${method.type} payments`,
      );
    if (method.type === 'paypal') return { connector: first };
    // A fallback needs the card's own token there; the first connector takes `token`.
    const connectors = route.connectors.filter(
      (name, index) => index === 0 || method.tokens?.[name] !== undefined,
    );
    return connectors.length > 1 ? { connector: first, connectors } : { connector: first };
  }

  /**
   * A payment from a wallet: refused when the wallet holds other currencies; whether the wallet
   * tops itself up for it. `wallet` is what the order's read brought (else it is read here).
   */
  private async walletChecks(
    tenantId: string,
    request: PaymentRequest,
    wallet: OrderForPayment['wallet'],
  ): Promise<boolean> {
    if (!wallet) {
      const [, autoTopUp] = await Promise.all([
        this.checkStoredWalletCurrency(tenantId, request),
        this.topsItselfUp(tenantId, request),
      ]);
      return autoTopUp;
    }
    if (request.method.type === 'card' || request.method.type === 'paypal') return false;
    assertWalletCurrency(wallet.currencies, request.currency);
    return request.method.type === 'wallet' && wallet.autoTopUpCurrency === request.currency;
  }

  /** A wallet payment from a wallet with an automatic top-up in its currency: the workflow asks. */
  private async topsItselfUp(tenantId: string, request: PaymentRequest): Promise<boolean> {
    if (request.method.type !== 'wallet') return false;
    const settings = await findAutoTopUp(this.db, tenantId, request.customerId);
    return settings?.currency === request.currency;
  }

  /** A wallet in another currency is refused as invalid, never converted. */
  private async checkStoredWalletCurrency(tenantId: string, request: PaymentRequest): Promise<void> {
    if (request.method.type === 'card' || request.method.type === 'paypal') return;
    await assertWalletHolds(this.db, tenantId, request.customerId, request.currency);
  }
}

/** The caller's methods that take money from the customer's wallet (a saved method is a card). */
function paysFromWallet(method: PaymentMethodInput): boolean {
  return method.type === 'wallet' || method.type === 'split';
}

function orderAlreadyPaid(orderId: string): AppError {
  return new AppError(
    'conflict',
    'order_already_paid',
    `order ${orderId} already has a payment with different parameters`,
  );
}

/** Workflow validators reject updates with typed failures; turn them into the application's refusals. */
function translate(error: unknown): unknown {
  const failure = error instanceof WorkflowUpdateFailedError ? error.cause : undefined;
  if (failure instanceof ApplicationFailure) {
    switch (failure.type) {
      case ErrorType.OrderAlreadyPaid:
        return new AppError('conflict', 'order_already_paid', failure.message);
      case ErrorType.InvalidPaymentState:
        return new AppError('conflict', 'invalid_state', failure.message);
      case ErrorType.InvalidAmount:
        return new AppError('invalid', 'invalid_amount', failure.message);
      default:
        break;
    }
  }
  return error;
}
