import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  executeChild,
  getExternalWorkflowHandle,
  log,
  patched,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { failoverGateway, gatewayActivities, lookupGateway, store } from './activities.js';
import { classifyFailure, Declined, failureType } from './failures.js';
import { Saga } from './saga.js';
import { ErrorType } from '../domain/errors.js';
import { checkoutWorkflowId } from '../domain/checkout.js';
import { cloudEvent } from '../domain/events.js';
import { gatewayIdempotencyKey, topUpWorkflowId, transferId } from '../domain/ids.js';
import { topUpWorkflow } from './top-up.js';
import {
  attemptStatusOf,
  canTransition,
  initialPaymentView,
  isCardExpired,
  isCustomerFixable,
  methodView,
  isSettled,
  isTerminal,
  type PaymentAttempt,
  type PaymentMethod,
  type PaymentStatus,
  type PaymentView,
} from '../domain/payment.js';
import type { PaymentClaim } from '../db/payments.js';
import type { Authorization } from '../gateway/port.js';
import { savedCharge } from './saved-card.js';
import { workflowIdOf } from './ids.js';
import {
  cancelSignal,
  attemptUpdate,
  cancelUpdate,
  captureUpdate,
  checkoutPaymentSignal,
  completeActionSignal,
  completeActionUpdate,
  LEGACY_CONNECTOR,
  SearchAttributes,
  settledUpdate,
  statusQuery,
  type AttemptRequest,
  type PaymentWorkflowInput,
} from './contract.js';

type Command = { kind: 'capture'; amount: number } | { kind: 'cancel' };

/**
 * One payment, from the first request to its final status. Every step that moves money adds
 * its undo to a saga; a failure unwinds them in reverse. Money never moves twice: ledger
 * transfer ids and gateway idempotency keys are derived from this workflow's id, the step and
 * the attempt. When the tenant allows attempts, a decline the customer can fix unwinds the
 * attempt and leaves the payment `requires_payment_method` until a new attempt, a cancel or the
 * end of the attempt window.
 */
export async function paymentWorkflow(input: PaymentWorkflowInput): Promise<PaymentView> {
  const payment = new Payment(input);
  payment.setup();
  return payment.run();
}

class Payment {
  private readonly workflowId = workflowInfo().workflowId;
  // The API starts payments with Paysaga's search attributes; a bare start (tests on a server
  // without them registered) skips the upserts instead of failing the workflow task.
  private readonly indexed =
    workflowInfo().typedSearchAttributes.get(SearchAttributes.TenantId) !== undefined;
  private readonly saga = new Saga();
  private gatewayProxy: ReturnType<typeof gatewayActivities> | undefined;
  /** The current attempt (1 first) and the method it pays with. */
  private attempt = 1;
  private method: PaymentMethod;
  /** A new attempt the caller asked for, taken up by the loop in `run`. */
  private nextAttempt: AttemptRequest | undefined;
  /** The request hash every repeated request is compared with: the latest attempt's. */
  private requestHash: string;
  /** New attempts are accepted until then (workflow time). */
  private readonly attemptDeadline: number;
  /** Every gateway call goes to the connector that authorized, captures and refunds included. */
  private connector: string;
  /** The current attempt's connectors, in order: where its authorization may move on failure. */
  private routeConnectors: string[];
  /** The connector and the tenant's account on it (each tenant has its own credentials). */
  private get route() {
    return { connector: this.connector, tenantId: this.input.tenantId };
  }
  private view: PaymentView;
  private command: Command | undefined;
  /** 3-D Secure: a webhook said the customer is done; how many times the gateway was re-read. */
  private action = { completed: false, checks: 0 };
  private authorization: Authorization | undefined;
  /** The card is charged as a sale (authorized and captured in one gateway call). */
  private sale = false;
  /** An earlier run of this order wrote its payment: this run moves nothing and ends with it. */
  private earlierRun = false;
  /** The wallet's automatic top-up was considered: once per payment, whatever came of it. */
  private autoTopUpAsked = false;

  constructor(private readonly input: PaymentWorkflowInput) {
    // Typed as always present, but absent from the input of histories started before it was.
    this.connector = input.connector ?? LEGACY_CONNECTOR;
    this.routeConnectors = input.connectors ?? [this.connector];
    this.method = input.request.method;
    this.requestHash = input.requestHash;
    this.attemptDeadline = Date.now() + (input.attempts?.windowMs ?? 0);
    this.view = initialPaymentView({
      ...input,
      connector: this.connector,
      workflowId: this.workflowId,
      now: new Date(),
    });
  }

  /** Decided at the first gateway call, so a wallet payment records no marker for it. */
  private get gateway() {
    return (this.gatewayProxy ??= gatewayActivities());
  }

  private get request() {
    return this.input.request;
  }

  /** The ledger transfer id or gateway idempotency key of `step`: the first attempt's are unsuffixed. */
  private stepId(step: string): string {
    return this.attempt === 1 ? step : `${step}:${this.attempt}`;
  }

  private get walletHoldId() {
    return transferId(this.workflowId, this.stepId('wallet-hold'));
  }

  /** Attempts until one settles the payment for good, or no new one comes. */
  async run(): Promise<PaymentView> {
    for (;;) {
      try {
        await this.runAttempt();
      } catch (error) {
        if (!(await this.reopen(error))) await this.fail(error);
      }
      if (this.earlierRun || this.view.status !== 'requires_payment_method') break;
      if (!(await this.awaitNextAttempt())) break;
    }
    return this.finish();
  }

  /** The story of an attempt: hold, authorize, wait for the customer or the merchant, capture. */
  private async runAttempt(): Promise<void> {
    if (this.input.autoTopUp && this.method.type === 'wallet' && !this.autoTopUpAsked) await this.autoTopUp();
    // Later attempts take the steps one by one: the one-step path also creates the payment.
    if (this.attempt === 1 && this.paysFromWalletAtOnce()) return this.payFromWallet();
    if (this.attempt === 1 && !(await this.recordCreated())) return;
    const cardPart = this.request.amount - (await this.holdWallet());
    const method = this.method;
    if (method.type !== 'wallet' && cardPart > 0)
      this.authorization = await this.authorizeCard(method, cardPart);
    if (this.command?.kind !== 'cancel' && this.request.capture === 'manual') await this.awaitDecision();
    if (this.command?.kind === 'cancel') await this.cancel();
    else if (!isTerminal(this.view.status))
      await this.capture(this.command?.kind === 'capture' ? this.command.amount : this.request.amount);
  }

  /**
   * The wallet tops itself up from the customer's saved card before it pays, when the payment
   * would not be covered or would leave it under its threshold: a child top-up workflow (its own
   * charge, idempotency keys and credit), then the payment as usual. If the payment then fails,
   * the saga takes the top-up back out of the wallet and refunds its charge. Whatever happens, an
   * event says so; a top-up that fails leaves the payment to the balance there is.
   */
  private async autoTopUp(): Promise<void> {
    this.autoTopUpAsked = true;
    const { tenantId, paymentId } = this.input;
    const { customerId, currency, amount } = this.request;
    const plan = await store.planAutoTopUp({
      tenantId,
      customerId,
      paymentId,
      currency,
      amount,
      day: new Date().toISOString().slice(0, 10),
    });
    if (plan.kind === 'none') return;
    const about = {
      customerId,
      paymentId,
      currency,
      amount: plan.amount,
      paymentMethodId: plan.paymentMethodId,
    };
    if (plan.kind === 'refused') {
      await this.publishWalletEvent('wallet.auto_top_up.failed', {
        ...about,
        reason: plan.reason,
        failureMessage: plan.message,
      });
      return;
    }
    const route = { connector: plan.connector, tenantId };
    const result = await executeChild(topUpWorkflow, {
      workflowId: workflowIdOf(topUpWorkflowId(tenantId, customerId, `auto-${paymentId}`)),
      args: [
        {
          customerId,
          amount: plan.amount,
          currency,
          token: plan.token,
          saved: plan.saved,
          ...route,
        },
      ],
    });
    await store.settleAutoTopUp({ tenantId, paymentId, status: result.status });
    if (result.status === 'failed') {
      await this.publishWalletEvent('wallet.auto_top_up.failed', {
        ...about,
        reason: 'declined',
        failureCode: result.failureCode,
        failureMessage: result.failureMessage,
      });
      return;
    }
    await this.publishWalletEvent('wallet.auto_top_up.succeeded', about);
    this.saga.add('take the automatic top-up back', async () => {
      await store.debitWallet({
        transferId: transferId(this.workflowId, 'auto-top-up-reversal'),
        tenantId,
        customerId,
        currency,
        amount: plan.amount,
        to: 'gateway_clearing',
        description: 'automatic top-up taken back: its payment failed',
      });
      if (result.authorizationId)
        await this.gateway.refundCard({
          ...route,
          idempotencyKey: gatewayIdempotencyKey(this.workflowId, 'auto-top-up-refund'),
          authorizationId: result.authorizationId,
          amount: plan.amount,
          reason: 'the payment the automatic top-up was for failed',
        });
      await store.settleAutoTopUp({ tenantId, paymentId, status: 'reversed' });
    });
  }

  private async publishWalletEvent(type: string, data: Record<string, unknown>): Promise<void> {
    const customerId = this.request.customerId;
    await store.publishEvent(
      cloudEvent({
        workflowId: this.workflowId,
        // The id is the workflow's, the type's and this: once per payment, as the top-up.
        seq: 1,
        type,
        subject: `wallets/${customerId}`,
        tenantId: this.input.tenantId,
        time: new Date().toISOString(),
        data,
      }),
    );
  }

  /**
   * A decline the customer can fix, with attempts allowed and the window still open: the attempt's
   * holds are released and the payment waits in `requires_payment_method`. False otherwise (the
   * caller fails the payment), without a command, as in histories from before attempts.
   */
  private async reopen(error: unknown): Promise<boolean> {
    if (!this.input.attempts || this.earlierRun) return false;
    const failure = classifyFailure(error);
    if (failure.kind !== 'declined' || !isCustomerFixable(failure.code)) return false;
    if (Date.now() >= this.attemptDeadline) return false;
    await this.unwind(
      {
        status: 'requires_payment_method',
        failureCode: failure.code,
        failureMessage: failure.message,
        nextAction: undefined,
      },
      'payment.attempt_failed',
    );
    return true;
  }

  /**
   * `requires_payment_method` until a new attempt (true: it has started), a cancel, or the end of
   * the window, which fails the payment with the last attempt's decline.
   */
  private async awaitNextAttempt(): Promise<boolean> {
    const remaining = this.attemptDeadline - Date.now();
    if (remaining > 0)
      await condition(() => this.nextAttempt !== undefined || this.command?.kind === 'cancel', remaining);
    if (this.command?.kind === 'cancel') {
      await this.record({ status: 'canceled' }, 'payment.canceled');
      return false;
    }
    const next = this.nextAttempt;
    if (!next) {
      await this.record({ status: 'failed' }, 'payment.failed');
      return false;
    }
    this.attempt++;
    this.method = next.method;
    this.routeConnectors = next.connectors ?? [this.input.connector ?? LEGACY_CONNECTOR];
    this.connector = this.routeConnectors[0] ?? LEGACY_CONNECTOR;
    this.requestHash = next.requestHash;
    this.authorization = undefined;
    this.sale = false;
    this.action.completed = false;
    const attempt: PaymentAttempt = {
      // Moves to a fallback connector are attempts too: the number counts every one.
      number: this.view.attempts.length + 1,
      method: methodView(next.method),
      status: 'processing',
      connector: this.connector,
      createdAt: new Date().toISOString(),
    };
    await this.record({
      status: 'processing',
      method: methodView(next.method),
      requestHash: next.requestHash,
      failureCode: undefined,
      failureMessage: undefined,
      gatewayAuthorizationId: undefined,
      connector: this.connector,
      attempts: [...this.view.attempts, attempt],
      ...(next.returnUrl === undefined ? {} : { returnUrl: next.returnUrl }),
    });
    this.nextAttempt = undefined;
    return true;
  }

  private async finish(): Promise<PaymentView> {
    await this.tellCheckoutSession();
    await condition(allHandlersFinished);
    return this.view;
  }

  /**
   * A payment made from a checkout session tells the session how it ended (a succeeded one
   * completes it). Only inputs with a session issue the signal, so older histories replay as
   * they ran; a session that has ended meanwhile changes nothing here.
   */
  private async tellCheckoutSession(): Promise<void> {
    const sessionId = this.input.checkoutSessionId;
    if (!sessionId || !isTerminal(this.view.status)) return;
    try {
      await getExternalWorkflowHandle(checkoutWorkflowId(this.input.tenantId, sessionId)).signal(
        checkoutPaymentSignal,
        { paymentId: this.input.paymentId, status: this.view.status },
      );
    } catch (error) {
      log.warn('the checkout session was not told how its payment ended', {
        sessionId,
        error: String(error),
      });
    }
  }

  /**
   * A wallet payment captured at once has nothing to wait for between holding and posting, so
   * both happen in one step. Histories started before this path took four.
   */
  private paysFromWalletAtOnce(): boolean {
    return this.method.type === 'wallet' && this.request.capture !== 'manual' && patched('wallet-one-step');
  }

  /**
   * One local activity, one transaction: the hold, its posting and the payment's `created` and
   * `succeeded` states. If it is refused (insufficient funds, a ledger conflict, text the database will not
   * store) nothing was written, and the payment is recorded as created before it fails.
   */
  private async payFromWallet(): Promise<void> {
    const amount = this.request.amount;
    const created = this.nextVersion({});
    const succeeded = this.nextVersion(
      { status: 'succeeded', amountCaptured: amount, amountFromWallet: amount, amountFromCard: 0 },
      created,
    );
    // Histories from before runs claimed their order have no claim in this result.
    let claim: PaymentClaim | undefined;
    try {
      claim = await store.payFromWallet({
        holdId: this.walletHoldId,
        postId: transferId(this.workflowId, this.stepId('wallet-post')),
        created,
        succeeded,
      });
    } catch (error) {
      if (await this.recordCreated()) throw error;
      return;
    }
    if (this.yieldsTo(claim)) return;
    this.view = succeeded;
    this.indexStatus();
  }

  setup(): void {
    const rejectUnless = (ok: boolean, message: string) => {
      if (!ok) throw ApplicationFailure.create({ type: ErrorType.InvalidPaymentState, message });
    };
    setHandler(statusQuery, () => this.view);
    setHandler(
      settledUpdate,
      async ({ requestHash }) => {
        // A concurrent request that started the pending attempt: this one waits for its outcome too.
        await condition(() => (isSettled(this.view.status) && !this.nextAttempt) || this.earlierRun);
        // The validator compared the request with this run's; an earlier run's may differ.
        if (requestHash !== this.view.requestHash) throw orderAlreadyPaid(this.request.orderId);
        return this.view;
      },
      {
        validator: ({ requestHash }) => {
          if (requestHash !== this.requestHash && requestHash !== this.nextAttempt?.requestHash)
            throw orderAlreadyPaid(this.request.orderId);
        },
      },
    );
    setHandler(
      attemptUpdate,
      async (next) => {
        const number = this.view.attempts.length + 1;
        this.nextAttempt = next;
        await condition(() => this.view.attempts.length >= number && isSettled(this.view.status));
        return this.view;
      },
      {
        validator: ({ baseRequestHash }) => {
          // Another amount, currency, customer or capture is another payment, not another attempt.
          if (baseRequestHash !== this.input.attempts?.baseRequestHash)
            throw orderAlreadyPaid(this.request.orderId);
          rejectUnless(
            this.view.status === 'requires_payment_method' && !this.nextAttempt && !this.command,
            `a ${this.view.status} payment is not open for a new attempt`,
          );
        },
      },
    );
    setHandler(
      captureUpdate,
      async ({ amount }) => {
        this.command = { kind: 'capture', amount: amount ?? this.view.amount };
        await condition(() => this.view.status !== 'requires_capture');
        return this.view;
      },
      {
        validator: ({ amount }) => {
          const { status, amount: authorized } = this.view;
          rejectUnless(
            status === 'requires_capture' && !this.command,
            `a ${status} payment cannot be captured`,
          );
          if (amount !== undefined && !(Number.isSafeInteger(amount) && amount > 0 && amount <= authorized)) {
            throw ApplicationFailure.create({
              type: ErrorType.InvalidAmount,
              message: `capture amount must be between 1 and the authorized ${authorized}`,
            });
          }
        },
      },
    );
    setHandler(
      cancelUpdate,
      async () => {
        this.command = { kind: 'cancel' };
        await condition(() => isTerminal(this.view.status));
        return this.view;
      },
      {
        validator: () =>
          rejectUnless(
            (this.view.status === 'requires_capture' ||
              this.view.status === 'requires_action' ||
              this.view.status === 'requires_payment_method') &&
              !this.command &&
              !this.nextAttempt,
            `a ${this.view.status} payment cannot be canceled`,
          ),
      },
    );
    setHandler(
      completeActionUpdate,
      async () => {
        const checked = this.action.checks;
        this.action.completed = true;
        // Answers once the workflow has re-read the gateway: a premature webhook leaves the payment
        // waiting in requires_action, and the webhook's sender is not held until the customer acts.
        await condition(() => this.action.checks > checked || this.view.status !== 'requires_action');
        return this.view;
      },
      {
        validator: (_result) =>
          rejectUnless(
            this.view.status === 'requires_action',
            `a ${this.view.status} payment needs no action`,
          ),
      },
    );
    setHandler(completeActionSignal, () => {
      this.action.completed = true;
    });
    // As the cancel update, without an answer: a signal that comes too late changes nothing.
    setHandler(cancelSignal, () => {
      const waiting: readonly string[] = ['requires_action', 'requires_capture', 'requires_payment_method'];
      if (waiting.includes(this.view.status) && !this.command) this.command = { kind: 'cancel' };
    });
  }

  /**
   * A status change is persisted (with its event) before it becomes visible to queries and
   * updates, so a caller who got `succeeded` back can read it from the API at once. Other
   * changes (amounts, card details) ride along with the next status change.
   */
  private async record(patch: Partial<PaymentView>, eventType?: string): Promise<void> {
    if (!patch.status && !eventType) {
      this.view = { ...this.view, ...patch };
      return;
    }
    if (patch.status && patch.status !== this.view.status && !canTransition(this.view.status, patch.status)) {
      // A bug, not a business outcome: fail the workflow task (Temporal retries it) rather than record it.
      throw new Error(`illegal payment transition ${this.view.status} -> ${patch.status}`);
    }
    const next = this.nextVersion(patch);
    await store.recordPayment({ view: next, eventType, previousStatus: this.view.status });
    this.view = next;
    if (patch.status) this.indexStatus();
  }

  /**
   * The attempts with the current one brought up to date by `patch`: its status, card, gateway
   * reference and decline. A payment closed while it waited for a new attempt (`failed` at the end
   * of the window, `canceled`) leaves its last attempt `failed` as it was.
   */
  private attemptsWith(patch: Partial<PaymentView>, from: PaymentView): PaymentAttempt[] {
    // A payment an earlier run stored before attempts were recorded has none.
    const attempts = patch.attempts ?? from.attempts ?? [];
    const current = attempts[attempts.length - 1];
    if (!current || (from.status === 'requires_payment_method' && !patch.attempts)) return attempts;
    const merged = { ...from, ...patch };
    const status = patch.status ? attemptStatusOf(patch.status) : undefined;
    const updated: PaymentAttempt = {
      ...current,
      status: status ?? current.status,
      method: merged.method,
      gatewayReference: merged.gatewayAuthorizationId ?? current.gatewayReference,
      ...(status === 'failed'
        ? { failureCode: merged.failureCode, failureMessage: merged.failureMessage }
        : {}),
    };
    return [...attempts.slice(0, -1), updated];
  }

  private nextVersion(patch: Partial<PaymentView>, from: PaymentView = this.view): PaymentView {
    return {
      ...from,
      ...patch,
      attempts: this.attemptsWith(patch, from),
      version: from.version + 1,
      updatedAt: new Date().toISOString(),
    };
  }

  private indexStatus(): void {
    if (this.indexed)
      upsertSearchAttributes([{ key: SearchAttributes.PaymentStatus, value: this.view.status }]);
  }

  /**
   * The first write, which claims the order: false when an earlier run of it wrote its payment
   * (this run then ends with that payment). If PostgreSQL refuses the caller's data (validation
   * lets nothing through that it would refuse, but a workflow must never retry forever on
   * input), the payment fails before any money moves, recorded without the text that could not
   * be stored. Histories from before runs claimed their order wrote it unconditionally.
   */
  private async recordCreated(): Promise<boolean> {
    try {
      if (!patched('order-claim')) {
        await this.record({}, 'payment.created');
        return true;
      }
      const created = this.nextVersion({});
      if (this.yieldsTo(await store.claimPayment({ view: created }))) return false;
      this.view = created;
      return true;
    } catch (error) {
      if (failureType(error) !== ErrorType.PersistenceRejected) throw error;
      this.view = { ...this.view, description: undefined, metadata: undefined };
      throw new Declined('processing_error', 'the payment could not be stored: its text was refused');
    }
  }

  /**
   * An earlier run of this order wrote its payment, and Temporal has since deleted it (retention):
   * the money moved then, and the gateway may have forgotten its idempotency keys. This run moves
   * nothing, changes nothing stored, and ends with that payment.
   */
  private yieldsTo(claim: PaymentClaim | undefined): boolean {
    if (claim?.claimed !== false) return false;
    log.warn('an earlier run of the order stored its payment; this run moves nothing', {
      paymentId: claim.stored.id,
      status: claim.stored.status,
    });
    this.view = claim.stored;
    this.earlierRun = true;
    this.indexStatus();
    return true;
  }

  /** Wallet and split payments hold the wallet part first; returns what was held. */
  private async holdWallet(): Promise<number> {
    const { customerId, currency, amount } = this.request;
    const method = this.method;
    if (method.type !== 'wallet' && method.type !== 'split') return 0;
    const holdId = this.walletHoldId;
    const { held } = await store.holdWallet({
      transferId: holdId,
      tenantId: this.input.tenantId,
      customerId,
      currency,
      amount,
      upToAvailable: method.type === 'split',
    });
    this.saga.add('void wallet hold', () =>
      store.voidWalletHold({
        transferId: transferId(this.workflowId, this.stepId('wallet-void')),
        tenantId: this.input.tenantId,
        pendingId: holdId,
      }),
    );
    await this.record({ amountFromWallet: held });
    return held;
  }

  /**
   * A card payment captured at once is a sale: one gateway call authorizes and captures (after
   * 3-D Secure, the gateway captures when the customer is done), and the capture step only
   * records it. Split payments and manual capture authorize first. Histories started before
   * this path authorized, then captured.
   */
  private sellsAtOnce(): boolean {
    const sold = this.method.type === 'card' || this.method.type === 'paypal';
    return sold && this.request.capture !== 'manual' && patched('card-sale');
  }

  private async authorizeCard(
    method: Exclude<PaymentMethod, { type: 'wallet' }>,
    amount: number,
  ): Promise<Authorization> {
    this.sale = this.sellsAtOnce();
    const paid = this.input.paidOnGateway;
    const saved = method.type === 'paypal' ? undefined : method.saved;
    // A saved card past its expiry is refused here: no gateway call, nothing to undo.
    if (saved && isCardExpired(saved, new Date()))
      throw new Declined(
        'expired_card',
        `the saved card expired at the end of ${saved.expMonth}/${saved.expYear}`,
      );
    const auth = paid
      ? await this.paidOnGateway(paid.authorizationId, amount)
      : await this.authorizeOnRoute(method, amount);
    if (auth.status === 'declined') {
      // The attempt keeps the gateway's reference of its decline (recorded with the failure).
      if (auth.id) this.view = { ...this.view, gatewayAuthorizationId: auth.id };
      throw new Declined(auth.failureCode ?? 'card_declined', auth.failureMessage ?? 'declined');
    }
    // A captured sale has nothing to void: only its recording is left.
    if (auth.status !== 'captured') this.saga.add('void card', () => this.voidCard(auth.id));
    await this.record({
      amountFromCard: amount,
      method: { ...this.view.method, card: auth.card },
      gatewayAuthorizationId: auth.id,
      ...(auth.networkTransactionId
        ? { attempts: this.withNetworkTransactionId(auth.networkTransactionId) }
        : {}),
    });
    if (auth.status !== 'requires_action') return auth;
    return this.awaitCustomer(auth);
  }

  /**
   * The authorization, on the route's first connector, or on the next one when a connector fails
   * on the gateway's side before money moved: its circuit is open, its retries ran out (no answer,
   * 5xx), or it answered `processing_error`. Each move is a new attempt with its own idempotency
   * key. A decline, fraud or authentication failure is final. An authorization whose answer never
   * came is first looked up on its connector: one found is the payment's, so the customer is
   * never charged twice; one that cannot be looked up keeps the payment on that connector.
   */
  private async authorizeOnRoute(
    method: Exclude<PaymentMethod, { type: 'wallet' }>,
    amount: number,
  ): Promise<Authorization> {
    for (let leg = 0; ; leg++) {
      const connector = this.routeConnectors[leg] ?? this.connector;
      const key = gatewayIdempotencyKey(
        this.workflowId,
        leg === 0 ? this.stepId('authorize') : `${this.stepId('authorize')}:${connector}`,
      );
      const request = {
        connector,
        tenantId: this.input.tenantId,
        idempotencyKey: key,
        token: tokenAt(method, connector, leg),
        amount,
        currency: this.request.currency,
        reference: this.input.paymentId,
        capture: this.sale,
        returnUrl: this.input.returnUrl,
        ...(method.type !== 'paypal' && method.saved ? { saved: savedCharge(method.saved) } : {}),
      };
      const next = this.routeConnectors[leg + 1];
      let failure: string;
      try {
        const auth =
          next === undefined
            ? await this.gateway.authorizeCard(request)
            : await failoverGateway.authorizeCard({ ...request, failover: true });
        if (next === undefined || !(auth.status === 'declined' && auth.failureCode === 'processing_error'))
          return auth;
        failure = `${connector} answered processing_error: ${auth.failureMessage ?? 'declined'}`;
      } catch (error) {
        if (next === undefined) throw error;
        const move = await this.mayMoveOn(error, request);
        if (move.found) return move.found;
        if (!move.ok) throw error;
        failure = `${connector} failed: ${move.reason}`;
      }
      await this.moveTo(next, failure);
    }
  }

  /**
   * Whether an authorization that failed may be tried on the next connector: only for the
   * gateway's own failures, and only once it is known that no money moved (a lookup on the
   * connector finds nothing; `found` if it finds the authorization after all).
   */
  private async mayMoveOn(
    error: unknown,
    request: { connector: string; tenantId: string; idempotencyKey: string; reference: string },
  ): Promise<{ ok: boolean; reason: string; found?: Authorization }> {
    const failure = classifyFailure(error);
    if (failure.kind === 'declined') return { ok: false, reason: failure.message };
    const circuitOpen = failureType(error) === ErrorType.GatewayCircuitOpen;
    if (failure.kind === 'refused' && !circuitOpen) return { ok: false, reason: failure.message };
    // Never sent: the circuit was open on the request's first try.
    if (circuitOpen && !sentBefore(error)) return { ok: true, reason: 'circuit open' };
    let found: Authorization | null;
    try {
      found = await lookupGateway.findAuthorization({
        connector: request.connector,
        tenantId: request.tenantId,
        idempotencyKey: request.idempotencyKey,
        reference: request.reference,
      });
    } catch {
      log.warn(
        'an authorization without an answer could not be looked up: the payment stays on its connector',
        {
          connector: request.connector,
        },
      );
      return { ok: false, reason: failure.message };
    }
    if (found) return { ok: false, reason: 'found', found };
    return { ok: true, reason: circuitOpen ? 'circuit open' : 'no answer' };
  }

  /**
   * The current attempt failed on its connector's side: it is recorded `failed` (processing_error)
   * and a new attempt starts on `connector`.
   */
  private async moveTo(connector: string, reason: string): Promise<void> {
    const attempts = this.view.attempts;
    const current = attempts[attempts.length - 1];
    const failed: PaymentAttempt[] = current
      ? [
          ...attempts.slice(0, -1),
          { ...current, status: 'failed', failureCode: 'processing_error', failureMessage: reason },
        ]
      : attempts;
    this.connector = connector;
    await this.record({
      status: 'processing',
      connector,
      gatewayAuthorizationId: undefined,
      attempts: [
        ...failed,
        {
          number: failed.length + 1,
          method: this.view.method,
          status: 'processing',
          connector,
          createdAt: new Date().toISOString(),
        },
      ],
    });
  }

  /** The attempts, the current one carrying the card network's id of its charge. */
  private withNetworkTransactionId(networkTransactionId: string): PaymentAttempt[] {
    const attempts = this.view.attempts;
    const current = attempts[attempts.length - 1];
    return current ? [...attempts.slice(0, -1), { ...current, networkTransactionId }] : attempts;
  }

  /**
   * The customer paid on the gateway's hosted page: the charge it made is read, not made, and
   * recorded as a sale (the same ledger posting as a card sale). A charge that is not a captured
   * one of this amount and currency is not this order's payment.
   */
  private async paidOnGateway(authorizationId: string, amount: number): Promise<Authorization> {
    const auth = await this.gateway.getAuthorization({ ...this.route, authorizationId });
    if (auth.status !== 'captured' || auth.amount !== amount || auth.currency !== this.request.currency)
      throw new Declined(
        'processing_error',
        `the gateway's charge ${authorizationId} is ${auth.status} for ${auth.amount} ${auth.currency}, not a captured ${amount} ${this.request.currency}`,
      );
    return auth;
  }

  /**
   * 3-D Secure: wait for the customer within the action window. A webhook only says "look":
   * the gateway is re-read, and only an authorized or declined authorization moves the payment
   * on; a premature webhook while the gateway still waits for the customer changes nothing.
   */
  private async awaitCustomer(auth: Authorization): Promise<Authorization> {
    const expiresAt = new Date(Date.now() + this.input.timeouts.actionWindowMs).toISOString();
    await this.record(
      {
        status: 'requires_action',
        nextAction: { type: 'redirect_to_url', url: auth.actionUrl ?? '', expiresAt },
      },
      'payment.requires_action',
    );
    const deadline = Date.now() + this.input.timeouts.actionWindowMs;
    for (;;) {
      const remaining = deadline - Date.now();
      const completed =
        remaining > 0
          ? await condition(() => this.action.completed || this.command?.kind === 'cancel', remaining)
          : this.action.completed;
      if (this.command?.kind === 'cancel') return auth;
      if (!completed) throw new Declined('expired', 'the customer did not complete 3-D Secure in time');
      const current = await this.gateway.getAuthorization({
        ...this.route,
        authorizationId: auth.id,
      });
      this.action.checks++;
      if (current.status === 'declined' || current.status === 'voided') {
        throw new Declined(
          current.failureCode ?? 'authentication_failed',
          current.failureMessage ?? '3-D Secure failed',
        );
      }
      // Histories recorded before this rule went on to capture here.
      if (current.status === 'requires_action' && patched('premature-action-webhook')) {
        this.action.completed = false;
        continue;
      }
      await this.record({ status: 'processing', nextAction: undefined });
      return current;
    }
  }

  /** Manual capture: wait for the merchant's capture or cancel, at most the authorization window. */
  private async awaitDecision(): Promise<void> {
    await this.record({ status: 'requires_capture' }, 'payment.requires_capture');
    const decided = await condition(
      () => this.command !== undefined,
      this.input.timeouts.authorizationWindowMs,
    );
    if (decided) return;
    await this.unwind(
      { status: 'canceled', failureCode: 'expired', failureMessage: 'authorization expired uncaptured' },
      'payment.canceled',
    );
  }

  private async cancel(): Promise<void> {
    await this.unwind({ status: 'canceled', nextAction: undefined }, 'payment.canceled');
  }

  /**
   * Captures `total`: the card part first (it can fail), then the ledger. Once the card is
   * captured the money has moved: nothing is voided any more, and a ledger that refuses to
   * record it for good ends the payment `requires_attention`, never `failed` with a void.
   */
  private async capture(total: number): Promise<void> {
    const fromWallet = Math.min(total, this.view.amountFromWallet);
    const fromCard = total - fromWallet;
    const authorization = this.authorization;
    if (this.sale && authorization?.status === 'captured') {
      await this.recordSale(authorization, total);
      return;
    }
    if (authorization && fromCard > 0) {
      await this.gateway.captureCard({
        ...this.route,
        idempotencyKey: gatewayIdempotencyKey(this.workflowId, this.stepId('capture')),
        authorizationId: authorization.id,
        amount: fromCard,
        currency: this.request.currency,
      });
    } else if (authorization) {
      // Everything captured from the wallet: the card authorization is released.
      await this.voidCard(authorization.id);
    }
    try {
      if (authorization && fromCard > 0) {
        await store.systemTransfer({
          transferId: transferId(this.workflowId, this.stepId('card-capture')),
          tenantId: this.input.tenantId,
          currency: this.request.currency,
          amount: fromCard,
          from: 'gateway_clearing',
          to: 'merchant_revenue',
          description: 'card payment captured',
        });
      }
      if (this.view.amountFromWallet > 0 || this.method.type === 'wallet' || this.method.type === 'split') {
        await store.postWalletHold({
          transferId: transferId(this.workflowId, this.stepId('wallet-post')),
          tenantId: this.input.tenantId,
          pendingId: this.walletHoldId,
          amount: fromWallet,
        });
      }
    } catch (error) {
      if (!(authorization && fromCard > 0 && patched('captured-card-never-voided'))) throw error;
      this.saga.clear();
      await this.needsAttention(
        `the card was captured but the ledger could not record it: ${classifyFailure(error).message}`,
      );
      return;
    }
    this.saga.clear();
    await this.record(
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

  /**
   * A sale the gateway captured: the ledger's posting and the `succeeded` state in one local
   * activity and one statement. If the ledger refuses it for good the card stays charged and
   * the payment ends `requires_attention`, as after a separate capture.
   */
  private async recordSale(authorization: Authorization, total: number): Promise<void> {
    const succeeded = this.nextVersion({
      status: 'succeeded',
      amountCaptured: total,
      amountFromWallet: 0,
      amountFromCard: total,
      nextAction: undefined,
    });
    try {
      await store.settleCardPayment({
        transferId: transferId(this.workflowId, this.stepId('card-capture')),
        amount: total,
        succeeded,
        previousStatus: this.view.status,
      });
    } catch (error) {
      this.saga.clear();
      await this.needsAttention(
        `the card was captured but the ledger could not record it: ${classifyFailure(error).message}`,
      );
      return;
    }
    this.saga.clear();
    this.view = succeeded;
    this.indexStatus();
  }

  private async fail(error: unknown): Promise<void> {
    const failure = classifyFailure(error);
    await this.unwind(
      {
        status: 'failed',
        failureCode: failure.kind === 'declined' ? failure.code : 'processing_error',
        failureMessage: failure.kind === 'declined' ? failure.message : 'the payment could not be processed',
        nextAction: undefined,
      },
      'payment.failed',
    );
  }

  /**
   * Runs the compensations, then records `outcome` with nothing taken from either source (every
   * hold was released), or `requires_attention` if an undo failed.
   */
  private async unwind(outcome: Partial<PaymentView> & { status: PaymentStatus }, eventType: string) {
    const failed = await this.saga.compensate();
    if (failed.length === 0)
      return this.record({ ...outcome, amountFromWallet: 0, amountFromCard: 0 }, eventType);
    await this.needsAttention(
      `could not ${failed.join(' and ')} after the payment ${outcome.status}`,
      outcome,
    );
  }

  private async needsAttention(reason: string, outcome: Partial<PaymentView> = {}): Promise<void> {
    await this.record(
      { ...outcome, status: 'requires_attention', failureMessage: reason, nextAction: undefined },
      'payment.requires_attention',
    );
  }

  private voidCard(authorizationId: string) {
    return this.gateway.voidCard({
      ...this.route,
      idempotencyKey: gatewayIdempotencyKey(this.workflowId, this.stepId('void')),
      authorizationId,
    });
  }
}

/** The card's token at `connector`: its own from `tokens`, else `token` on the route's first. */
function tokenAt(method: Exclude<PaymentMethod, { type: 'wallet' }>, connector: string, leg: number): string {
  if (method.type === 'paypal') return method.email ?? '';
  return method.tokens?.[connector] ?? (leg === 0 ? method.token : '');
}

/** Whether an earlier try of a request refused with an open circuit was sent. */
function sentBefore(error: unknown): boolean {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (!(cause instanceof ApplicationFailure)) return true;
  const [details] = cause.details ?? [];
  return (details as { sentBefore?: boolean } | undefined)?.sentBefore !== false;
}

function orderAlreadyPaid(orderId: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: ErrorType.OrderAlreadyPaid,
    message: `order ${orderId} already has a payment with different parameters`,
  });
}
