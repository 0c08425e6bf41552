import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  log,
  patched,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { gateway, store } from './activities.js';
import { ErrorType } from '../domain/errors.js';
import { gatewayIdempotencyKey, transferId } from '../domain/ids.js';
import {
  canTransition,
  initialPaymentView,
  isSettled,
  isTerminal,
  type FailureCode,
  type PaymentView,
} from '../domain/payment.js';
import type { Authorization } from '../gateway/port.js';
import {
  cancelUpdate,
  captureUpdate,
  completeActionSignal,
  completeActionUpdate,
  SearchAttributes,
  settledUpdate,
  statusQuery,
  type PaymentWorkflowInput,
} from './contract.js';

class Declined extends Error {
  constructor(
    readonly code: FailureCode,
    message: string,
  ) {
    super(message);
  }
}

type Command = { kind: 'capture'; amount: number } | { kind: 'cancel' };

/**
 * One payment, from the first request to its final status. Every step that moves money pushes
 * its undo; a failure unwinds them in reverse. Money never moves twice: ledger transfer ids and
 * gateway idempotency keys are derived from this workflow's id and the step.
 */
export async function paymentWorkflow(input: PaymentWorkflowInput): Promise<PaymentView> {
  const { workflowId, typedSearchAttributes } = workflowInfo();
  // The API starts payments with Paysaga's search attributes; a bare start (tests on a server
  // without them registered) skips the upserts instead of failing the workflow task.
  const indexed = typedSearchAttributes.get(SearchAttributes.TenantId) !== undefined;
  const { request, tenantId } = input;
  let view: PaymentView = initialPaymentView({
    paymentId: input.paymentId,
    tenantId,
    workflowId,
    request,
    requestHash: input.requestHash,
    now: new Date(),
  });
  let command: Command | undefined;
  let actionCompleted = false;
  let actionChecks = 0;
  let authorization: Authorization | undefined;
  const walletHoldId = transferId(workflowId, 'wallet-hold');
  const compensations: { step: string; undo: () => Promise<unknown> }[] = [];

  const rejectUnless = (ok: boolean, message: string) => {
    if (!ok) throw ApplicationFailure.create({ type: ErrorType.InvalidPaymentState, message });
  };

  setHandler(statusQuery, () => view);
  setHandler(
    settledUpdate,
    async () => {
      await condition(() => isSettled(view.status));
      return view;
    },
    {
      validator: ({ requestHash }) => {
        if (requestHash !== input.requestHash) {
          throw ApplicationFailure.create({
            type: ErrorType.OrderAlreadyPaid,
            message: `order ${request.orderId} already has a payment with different parameters`,
          });
        }
      },
    },
  );
  setHandler(
    captureUpdate,
    async ({ amount }) => {
      command = { kind: 'capture', amount: amount ?? view.amount };
      await condition(() => view.status !== 'requires_capture');
      return view;
    },
    {
      validator: ({ amount }) => {
        rejectUnless(
          view.status === 'requires_capture' && !command,
          `a ${view.status} payment cannot be captured`,
        );
        if (amount !== undefined && !(Number.isSafeInteger(amount) && amount > 0 && amount <= view.amount)) {
          throw ApplicationFailure.create({
            type: ErrorType.InvalidAmount,
            message: `capture amount must be between 1 and the authorized ${view.amount}`,
          });
        }
      },
    },
  );
  setHandler(
    cancelUpdate,
    async () => {
      command = { kind: 'cancel' };
      await condition(() => isTerminal(view.status));
      return view;
    },
    {
      validator: () =>
        rejectUnless(
          (view.status === 'requires_capture' || view.status === 'requires_action') && !command,
          `a ${view.status} payment cannot be canceled`,
        ),
    },
  );
  setHandler(
    completeActionUpdate,
    async () => {
      const checked = actionChecks;
      actionCompleted = true;
      // Answers once the workflow has re-read the gateway: a premature webhook leaves the payment
      // waiting in requires_action, and the webhook's sender is not held until the customer acts.
      await condition(() => actionChecks > checked || view.status !== 'requires_action');
      return view;
    },
    {
      validator: (_result) =>
        rejectUnless(view.status === 'requires_action', `a ${view.status} payment needs no action`),
    },
  );
  setHandler(completeActionSignal, () => {
    actionCompleted = true;
  });

  /**
   * A status change is persisted (with its event) before it becomes visible to queries and
   * updates, so a caller who got `succeeded` back can read it from the API at once. Other
   * changes (amounts, card details) ride along with the next status change.
   */
  async function update(patch: Partial<PaymentView>, eventType?: string): Promise<void> {
    if (!patch.status && !eventType) {
      view = { ...view, ...patch };
      return;
    }
    if (patch.status && patch.status !== view.status && !canTransition(view.status, patch.status)) {
      // A bug, not a business outcome: fail the workflow task (Temporal retries it) rather than record it.
      throw new Error(`illegal payment transition ${view.status} -> ${patch.status}`);
    }
    const next = { ...view, ...patch, version: view.version + 1, updatedAt: new Date().toISOString() };
    await store.recordPayment({ view: next, eventType });
    view = next;
    if (patch.status && indexed)
      upsertSearchAttributes([{ key: SearchAttributes.PaymentStatus, value: next.status }]);
  }

  /**
   * The first write. If PostgreSQL refuses the caller's data (validation lets nothing through
   * that it would refuse, but a workflow must never retry forever on input), the payment fails
   * before any money moves, recorded without the text that could not be stored.
   */
  async function recordCreated(): Promise<void> {
    try {
      await update({}, 'payment.created');
    } catch (error) {
      if (failureType(error) !== ErrorType.PersistenceRejected) throw error;
      view = { ...view, description: undefined, metadata: undefined };
      throw new Declined('processing_error', 'the payment could not be stored: its text was refused');
    }
  }

  async function compensate(): Promise<void> {
    for (const { step, undo } of compensations.reverse()) {
      try {
        await undo();
      } catch (error) {
        log.error('compensation failed', { step, error: String(error) });
      }
    }
    compensations.length = 0;
  }

  async function authorizeCard(token: string, amount: number): Promise<Authorization> {
    const auth = await gateway.authorizeCard({
      idempotencyKey: gatewayIdempotencyKey(workflowId, 'authorize'),
      token,
      amount,
      currency: request.currency,
      reference: input.paymentId,
      capture: false,
      returnUrl: input.returnUrl,
    });
    if (auth.status === 'declined')
      throw new Declined(auth.failureCode ?? 'card_declined', auth.failureMessage ?? 'declined');
    compensations.push({
      step: 'void card',
      undo: () =>
        gateway.voidCard({
          idempotencyKey: gatewayIdempotencyKey(workflowId, 'void'),
          authorizationId: auth.id,
        }),
    });
    await update({
      amountFromCard: amount,
      method: { type: view.method.type, card: auth.card },
      gatewayAuthorizationId: auth.id,
    });
    if (auth.status !== 'requires_action') return auth;

    const expiresAt = new Date(Date.now() + input.timeouts.actionWindowMs).toISOString();
    await update(
      {
        status: 'requires_action',
        nextAction: { type: 'redirect_to_url', url: auth.actionUrl ?? '', expiresAt },
      },
      'payment.requires_action',
    );
    const deadline = Date.now() + input.timeouts.actionWindowMs;
    for (;;) {
      const remaining = deadline - Date.now();
      const completed =
        remaining > 0
          ? await condition(() => actionCompleted || command?.kind === 'cancel', remaining)
          : actionCompleted;
      if (command?.kind === 'cancel') return auth;
      if (!completed) throw new Declined('expired', 'the customer did not complete 3-D Secure in time');
      // Trust the gateway, not the webhook body: read the authorization's current state.
      const current = await gateway.getAuthorization(auth.id);
      actionChecks++;
      if (current.status === 'declined' || current.status === 'voided') {
        throw new Declined(
          current.failureCode ?? 'authentication_failed',
          current.failureMessage ?? '3-D Secure failed',
        );
      }
      // Only an authorized (or declined) authorization moves the payment on; a premature webhook
      // while the gateway still waits for the customer changes nothing. Histories recorded before
      // this rule went on to capture here.
      if (current.status === 'requires_action' && patched('premature-action-webhook')) {
        actionCompleted = false;
        continue;
      }
      await update({ status: 'processing', nextAction: undefined });
      return current;
    }
  }

  async function capture(total: number): Promise<void> {
    const fromWallet = Math.min(total, view.amountFromWallet);
    const fromCard = total - fromWallet;
    // The card goes first: it can fail, the ledger post after it cannot (it only retries).
    if (authorization && fromCard > 0) {
      await gateway.captureCard({
        idempotencyKey: gatewayIdempotencyKey(workflowId, 'capture'),
        authorizationId: authorization.id,
        amount: fromCard,
      });
      await store.systemTransfer({
        transferId: transferId(workflowId, 'card-capture'),
        tenantId,
        currency: request.currency,
        amount: fromCard,
        from: 'gateway_clearing',
        to: 'merchant_revenue',
        description: 'card payment captured',
      });
    } else if (authorization) {
      await gateway.voidCard({
        idempotencyKey: gatewayIdempotencyKey(workflowId, 'void'),
        authorizationId: authorization.id,
      });
    }
    if (view.amountFromWallet > 0 || request.method.type !== 'card') {
      await store.postWalletHold({
        transferId: transferId(workflowId, 'wallet-post'),
        tenantId,
        pendingId: walletHoldId,
        amount: fromWallet,
      });
    }
    compensations.length = 0;
    await update(
      {
        status: 'succeeded',
        amountCaptured: total,
        // A partial capture takes the wallet part first; the rest of each part was released.
        amountFromWallet: fromWallet,
        amountFromCard: fromCard,
        nextAction: undefined,
      },
      'payment.succeeded',
    );
  }

  try {
    await recordCreated();
    const method = request.method;
    let cardPart = request.amount;
    if (method.type === 'wallet' || method.type === 'split') {
      const { held } = await store.holdWallet({
        transferId: walletHoldId,
        tenantId,
        customerId: request.customerId,
        currency: request.currency,
        amount: request.amount,
        upToAvailable: method.type === 'split',
      });
      compensations.push({
        step: 'void wallet hold',
        undo: () =>
          store.voidWalletHold({
            transferId: transferId(workflowId, 'wallet-void'),
            tenantId,
            pendingId: walletHoldId,
          }),
      });
      cardPart = request.amount - held;
      await update({ amountFromWallet: held });
    }
    if (method.type !== 'wallet' && cardPart > 0) authorization = await authorizeCard(method.token, cardPart);

    if (command?.kind !== 'cancel' && request.capture === 'manual') {
      await update({ status: 'requires_capture' }, 'payment.requires_capture');
      const decided = await condition(() => command !== undefined, input.timeouts.authorizationWindowMs);
      if (!decided) {
        await compensate();
        await update(
          { status: 'canceled', failureCode: 'expired', failureMessage: 'authorization expired uncaptured' },
          'payment.canceled',
        );
      }
    }
    if (command?.kind === 'cancel') {
      await compensate();
      await update({ status: 'canceled', nextAction: undefined }, 'payment.canceled');
    } else if (!isTerminal(view.status)) {
      await capture(command?.kind === 'capture' ? command.amount : request.amount);
    }
  } catch (error) {
    const failure = classify(error);
    await compensate();
    await update(
      { status: 'failed', failureCode: failure.code, failureMessage: failure.message, nextAction: undefined },
      'payment.failed',
    );
  }
  await condition(allHandlersFinished);
  return view;
}

/** The ApplicationFailure type of an activity's failure, however it arrived. */
function failureType(error: unknown): string | undefined {
  // A local activity's failure arrives as its ApplicationFailure, a regular one wrapped in ActivityFailure.
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

/** Business declines end the payment; anything else that reaches here has spent its retries. */
function classify(error: unknown): { code: FailureCode; message: string } {
  if (error instanceof Declined) return { code: error.code, message: error.message };
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (failureType(error) === ErrorType.InsufficientFunds) {
    return { code: 'insufficient_funds', message: 'insufficient wallet balance' };
  }
  if (error instanceof ActivityFailure || (cause instanceof ApplicationFailure && cause.nonRetryable)) {
    return { code: 'processing_error', message: 'the payment could not be processed' };
  }
  throw error;
}
