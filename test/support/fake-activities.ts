import { ApplicationFailure } from '@temporalio/activity';
import type { Activities } from '../../src/activities/index.js';
import { refusingPermanentErrors } from '../../src/activities/permanent.js';
import { ErrorType } from '../../src/domain/errors.js';
import { allocateRefund } from '../../src/domain/refund.js';
import type { PaymentView } from '../../src/domain/payment.js';
import { isStorableText } from '../../src/domain/text.js';
import { createGatewayActivities } from '../../src/activities/gateway.js';
import { checkoutCreatedEvent, checkoutEvent } from '../../src/activities/checkout.js';
import type { CheckoutSessionView } from '../../src/domain/checkout.js';
import type { CloudEvent } from '../../src/domain/events.js';
import { ConnectorRegistry } from '../../src/gateway/registry.js';
import { InMemoryGateway } from './in-memory-gateway.js';

/** The connectors the workflow tests route payments to: one in-memory gateway answers for each. */
const CONNECTORS = ['sandbox', 'acme'];

/** The API's public base URL the fake's checkout events name the hosted page by. */
export const FAKE_PUBLIC_URL = 'https://pay.paysaga.test';

/** A card whose sales this fake's gateway answers with an authorization only. */
const AUTHORIZES_SALES_ONLY = 'tok_authorize_only';

/**
 * In-memory stand-ins for the activities, so workflow tests isolate the orchestration on
 * purpose: a wallet with a balance, the real gateway activities over an in-memory gateway that
 * keeps the connectors' contract (`gateway`, which a test drives as the customer or the network
 * would), and a log of every call (compensations included).
 */
export function fakeActivities(
  options: {
    walletBalance?: number;
    /** What the payment being refunded captured from each source. */
    captured?: { wallet: number; card: number };
    /** The ledger refuses every wallet credit (as it would a currency it cannot hold). */
    creditRefused?: boolean;
    /** The ledger refuses to record a captured card charge, for good. */
    captureLedgerRefused?: boolean;
    /** The connector the refunded payment was authorized through. */
    connector?: string;
    /** The order's payment as an earlier run, since deleted from Temporal, stored it. */
    earlierRun?: PaymentView;
    /** The refund as an earlier run, since deleted from Temporal, settled it. */
    settledRefund?: 'succeeded' | 'failed';
  } = {},
) {
  let balance = options.walletBalance ?? 0;
  const holds = new Map<string, number>();
  const calls: string[] = [];
  const recorded: PaymentView[] = [];
  /** The event type of every recorded state that has one, in order. */
  const events: string[] = [];
  /** Every ledger transfer id and gateway idempotency key a call carried, in call order. */
  const ids: string[] = [];
  const attempts: Record<string, number> = {};
  /** The connector each gateway call was routed to, in call order. */
  const connectors: string[] = [];
  const gateway = new InMemoryGateway();
  const gatewayActivities = createGatewayActivities(
    new ConnectorRegistry(
      CONNECTORS.map((name) => gateway.as(name)),
      'sandbox',
    ),
  );
  const log = (activity: string, connector: string, call: string) => {
    connectors.push(connector);
    attempts[activity] = (attempts[activity] ?? 0) + 1;
    calls.push(call);
  };

  const settled: string[] = [];
  const captured = options.captured ?? { wallet: 0, card: 1000 };
  const reserved = { wallet: 0, card: 0 };
  /** The card part of the payment being refunded, as the gateway charged it (once, for every refund). */
  const cardCharge = async () => {
    const sale = await gateway.authorize({
      idempotencyKey: 'refunded-payment',
      token: 'tok_ok',
      amount: captured.card,
      currency: 'USD',
      reference: 'pay_1',
      capture: true,
    });
    return sale.id;
  };

  /** What PostgreSQL does with text it cannot store: SQLSTATE 22021, counted per activity. */
  const refuseUnstorable = (view: PaymentView, activity: string) => {
    const texts = [view.description ?? '', ...Object.values(view.metadata ?? {})];
    if (texts.every(isStorableText)) return;
    attempts[activity] = (attempts[activity] ?? 0) + 1;
    throw Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021' });
  };

  /** Checkout sessions as this fake's store holds them, and the events they wrote. */
  const sessions = new Map<string, CheckoutSessionView>();
  const checkoutEvents: CloudEvent[] = [];
  const endSession = (
    input: { tenantId: string; sessionId: string; at: string; paymentId?: string },
    status: 'complete' | 'expired',
  ): CheckoutSessionView => {
    calls.push(`${status === 'complete' ? 'completeCheckoutSession' : 'expireCheckoutSession'}`);
    const stored = sessions.get(input.sessionId);
    if (stored && stored.status !== 'open') return stored;
    const ended: CheckoutSessionView = {
      id: input.sessionId,
      tenantId: input.tenantId,
      orderId: stored?.orderId ?? 'ord_1',
      customerId: 'cus_1',
      amount: 1000,
      currency: 'USD',
      successUrl: 'https://merchant.example/success',
      cancelUrl: 'https://merchant.example/cancel',
      allowedMethods: ['card', 'wallet'],
      expiresAt: input.at,
      createdAt: input.at,
      ...stored,
      status,
      paymentId: input.paymentId,
      ...(status === 'complete' ? { completedAt: input.at } : { expiredAt: input.at }),
      updatedAt: input.at,
    };
    sessions.set(input.sessionId, ended);
    checkoutEvents.push(
      checkoutEvent(ended, status === 'complete' ? 'checkout_session.completed' : 'checkout_session.expired'),
    );
    return ended;
  };

  const activities: Activities = {
    async announceCheckoutSession(input) {
      calls.push('announceCheckoutSession');
      const stored = sessions.get(input.sessionId);
      const now = new Date().toISOString();
      const view: CheckoutSessionView = stored ?? {
        id: input.sessionId,
        tenantId: input.tenantId,
        orderId: 'ord_1',
        customerId: 'cus_1',
        amount: 1000,
        currency: 'USD',
        successUrl: 'https://merchant.example/success',
        cancelUrl: 'https://merchant.example/cancel',
        allowedMethods: ['card', 'wallet'],
        status: 'open',
        expiresAt: now,
        createdAt: now,
        updatedAt: now,
      };
      sessions.set(input.sessionId, view);
      // As the outbox's unique event id does: a retried write adds nothing.
      const event = checkoutCreatedEvent(view, FAKE_PUBLIC_URL);
      if (!checkoutEvents.some((each) => each.id === event.id)) checkoutEvents.push(event);
      return true;
    },
    async completeCheckoutSession(input) {
      return endSession(input, 'complete');
    },
    async expireCheckoutSession(input) {
      return endSession(input, 'expired');
    },
    async reserveRefund(input) {
      calls.push(`reserveRefund:${input.amount ?? 'rest'}`);
      if (options.settledRefund) {
        const refund = {
          id: input.refundId,
          tenantId: input.tenantId,
          paymentId: input.paymentId,
          workflowId: input.workflowId,
          amount: 300,
          amountToWallet: 0,
          amountToCard: 300,
          currency: 'USD' as const,
          status: options.settledRefund,
          createdAt: '2026-01-01T00:00:00.000Z',
          updatedAt: '2026-01-01T00:00:01.000Z',
        };
        return {
          ok: true,
          refund,
          gatewayAuthorizationId: 'auth_1',
          connector: 'sandbox',
          customerId: 'cus_1',
        };
      }
      const amount = input.amount ?? captured.wallet + captured.card - reserved.wallet - reserved.card;
      const allocation = allocateRefund(amount, captured, reserved);
      if (!allocation) return { ok: false, code: 'amount_exceeds_refundable', message: 'too much' };
      reserved.wallet += allocation.toWallet;
      reserved.card += allocation.toCard;
      const refund = {
        id: input.refundId,
        tenantId: input.tenantId,
        paymentId: input.paymentId,
        workflowId: input.workflowId,
        amount,
        amountToWallet: allocation.toWallet,
        amountToCard: allocation.toCard,
        currency: 'USD' as const,
        status: 'pending' as const,
        createdAt: input.now,
        updatedAt: input.now,
      };
      return {
        ok: true,
        refund,
        gatewayAuthorizationId: await cardCharge(),
        connector: options.connector ?? 'sandbox',
        customerId: 'cus_1',
      };
    },
    async settleRefund(input) {
      settled.push(input.status);
      calls.push(`settleRefund:${input.status}:${input.events.map((e) => e.type).join(',')}`);
    },
    async markRefundPending(input) {
      calls.push(`markRefundPending:${input.gatewayRefundId}`);
    },
    async holdWallet(input) {
      calls.push(`holdWallet:${input.amount}`);
      ids.push(input.transferId);
      const held = input.upToAvailable ? Math.min(balance, input.amount) : input.amount;
      if (held > balance) {
        throw ApplicationFailure.create({
          type: ErrorType.InsufficientFunds,
          message: 'insufficient',
          nonRetryable: true,
        });
      }
      balance -= held;
      holds.set(input.transferId, held);
      return { held };
    },
    async postWalletHold(input) {
      calls.push(`postWalletHold:${input.amount}`);
      ids.push(input.transferId);
      const held = holds.get(input.pendingId) ?? 0;
      balance += held - (input.amount ?? held);
      holds.delete(input.pendingId);
    },
    async voidWalletHold(input) {
      calls.push('voidWalletHold');
      ids.push(input.transferId);
      balance += holds.get(input.pendingId) ?? 0;
      holds.delete(input.pendingId);
    },
    async creditWallet(input) {
      calls.push(`creditWallet:${input.amount}`);
      if (options.creditRefused) {
        throw ApplicationFailure.create({
          type: ErrorType.LedgerConflict,
          message: 'the ledger refused the credit',
          nonRetryable: true,
        });
      }
      balance += input.amount;
    },
    async debitWallet(input) {
      calls.push(`debitWallet:${input.amount}`);
      ids.push(input.transferId);
    },
    async planAutoTopUp() {
      calls.push('planAutoTopUp');
      return { kind: 'none' };
    },
    async settleAutoTopUp(input) {
      calls.push(`settleAutoTopUp:${input.status}`);
    },
    async systemTransfer(input) {
      calls.push(`systemTransfer:${input.from}->${input.to}:${input.amount}`);
      ids.push(input.transferId);
      if (options.captureLedgerRefused) {
        throw ApplicationFailure.create({
          type: ErrorType.LedgerConflict,
          message: 'transfer exists with different fields',
          nonRetryable: true,
        });
      }
    },
    // One statement: the ledger's posting and the succeeded state, or neither.
    settleCardPayment: refusingPermanentErrors({
      settleCardPayment: async ({
        amount,
        succeeded,
        transferId,
      }: Parameters<Activities['settleCardPayment']>[0]) => {
        calls.push(`settleCardPayment:${amount}`);
        ids.push(transferId);
        if (options.captureLedgerRefused) {
          throw ApplicationFailure.create({
            type: ErrorType.LedgerConflict,
            message: 'transfer exists with different fields',
            nonRetryable: true,
          });
        }
        refuseUnstorable(succeeded, 'settleCardPayment');
        recorded.push(succeeded);
      },
    }).settleCardPayment,
    // The first write of a run: refused text as recordPayment; an earlier run's payment wins.
    claimPayment: refusingPermanentErrors({
      claimPayment: async ({ view }: Parameters<Activities['claimPayment']>[0]) => {
        if (options.earlierRun) return { claimed: false as const, stored: options.earlierRun };
        refuseUnstorable(view, 'claimPayment');
        recorded.push(view);
        return { claimed: true as const };
      },
    }).claimPayment,
    // As PostgreSQL does: text it cannot store is refused with SQLSTATE 22021, every time.
    recordPayment: refusingPermanentErrors({
      recordPayment: async ({ view, eventType }: Parameters<Activities['recordPayment']>[0]) => {
        refuseUnstorable(view, 'recordPayment');
        recorded.push(view);
        if (eventType) events.push(eventType);
      },
    }).recordPayment,
    // One transaction: a refusal (text or funds) writes nothing.
    payFromWallet: refusingPermanentErrors({
      payFromWallet: async ({
        created,
        succeeded,
        holdId,
        postId,
      }: Parameters<Activities['payFromWallet']>[0]) => {
        calls.push(`payFromWallet:${succeeded.amount}`);
        ids.push(holdId, postId);
        if (options.earlierRun) return { claimed: false, stored: options.earlierRun };
        refuseUnstorable(succeeded, 'payFromWallet');
        if (succeeded.amount > balance) {
          throw ApplicationFailure.create({
            type: ErrorType.InsufficientFunds,
            message: 'insufficient',
            nonRetryable: true,
          });
        }
        balance -= succeeded.amount;
        recorded.push(created, succeeded);
        return { claimed: true as const };
      },
    }).payFromWallet,
    async publishEvent(event) {
      calls.push(`publishEvent:${event.type}`);
    },
    async refundCard(request) {
      log('refundCard', request.connector, `refundCard:${request.amount}`);
      return gatewayActivities.refundCard(request);
    },
    async authorizeCard(request) {
      ids.push(request.idempotencyKey);
      log(
        'authorizeCard',
        request.connector,
        `authorizeCard:${request.amount}${request.capture ? ':sale' : ''}`,
      );
      // A gateway that answers a sale with an authorization only, which the workflows then capture.
      const capture = request.capture && request.token !== AUTHORIZES_SALES_ONLY;
      return gatewayActivities.authorizeCard({ ...request, capture });
    },
    async captureCard(request) {
      ids.push(request.idempotencyKey);
      log('captureCard', request.connector, `captureCard:${request.amount}`);
      return gatewayActivities.captureCard(request);
    },
    async voidCard(request) {
      ids.push(request.idempotencyKey);
      log('voidCard', request.connector, 'voidCard');
      return gatewayActivities.voidCard(request);
    },
    async findAuthorization(request) {
      log('findAuthorization', request.connector, 'findAuthorization');
      return gatewayActivities.findAuthorization(request);
    },
    async getAuthorization(request) {
      log('getAuthorization', request.connector, 'getAuthorization');
      return gatewayActivities.getAuthorization(request);
    },
    async expireGatewayCheckoutSession(request) {
      log('expireGatewayCheckoutSession', request.connector, 'expireGatewayCheckoutSession');
      return gatewayActivities.expireGatewayCheckoutSession(request);
    },
  };
  return {
    activities,
    sessions,
    checkoutEvents,
    calls,
    connectors,
    recorded,
    events,
    ids,
    attempts,
    settled,
    balance: () => balance,
    /** The customer tops the wallet up (outside the payment). */
    topUp: (amount: number) => {
      balance += amount;
    },
    gateway,
  };
}
