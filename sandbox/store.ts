import { randomBytes } from 'node:crypto';
import type { Currency } from '../src/domain/money.js';
import type { CardBehavior } from './cards.js';
import {
  behaviorForLast4,
  cardBrand,
  isAcceptableNumber,
  TEST_TOKEN_EXPIRY,
  TEST_TOKEN_PREFIX,
  testCardByLast4,
} from './cards.js';
import { ApiError, TOKEN_NOT_FOUND } from './wire.js';
import type {
  RefundMode,
  ReferenceStats,
  SandboxStats,
  WebhookPayload,
  WireAuthorization,
  WireCard,
  WirePaymentMethod,
  WireRefund,
} from './wire.js';

/** The sandbox's in-memory state and business rules; HTTP, faults and idempotency live in server.ts. */
interface TokenRecord {
  card: WireCard;
  behavior: CardBehavior;
}

interface PaymentMethodRecord {
  wire: WirePaymentMethod;
  behavior: CardBehavior;
  returnUrl: string | undefined;
}

/**
 * Cards whose issuer refuses to store them: a setup with one fails. A short balance (1111) or an
 * expiry only the issuer knows of (2222) shows at the charge, as a zero-amount setup checks neither.
 */
const REFUSED_AT_SETUP: readonly string[] = ['card_declined', 'fraud_suspected', 'invalid_card'];

interface AuthorizationRecord {
  wire: WireAuthorization;
  /** Refunds still pending count against what may be refunded, so they cannot over-refund. */
  pendingRefunds: number;
  returnUrl: string | undefined;
}

export interface StoreDeps {
  actionUrl(id: string): string;
  emit(payload: WebhookPayload): void;
  refundMode(): { mode: RefundMode; delayMs: number };
}

const newId = (prefix: string): string => `${prefix}_${randomBytes(12).toString('base64url')}`;
const nowSec = (): number => Math.floor(Date.now() / 1000);
const newNetworkTransactionId = (): string => `ntx_${randomBytes(8).toString('hex')}`;

export class SandboxStore {
  private readonly tokens = new Map<string, TokenRecord>();
  private readonly authorizations = new Map<string, AuthorizationRecord>();
  private readonly refunds = new Map<string, WireRefund>();
  private readonly paymentMethods = new Map<string, PaymentMethodRecord>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly counters = { charges: 0, captures: 0, voids: 0, refunds: 0, paymentMethods: 0 };
  // A Map, not an object: references come from callers and could be `__proto__`.
  private readonly byReference = new Map<string, ReferenceStats>();

  constructor(private readonly deps: StoreDeps) {}

  tokenize(input: { number: string; expMonth: number; expYear: number }): { id: string; card: WireCard } {
    const number = input.number.replace(/[\s-]/g, '');
    if (!isAcceptableNumber(number))
      throw new ApiError(400, 'invalid_number', 'The card number is not valid.');
    const now = new Date();
    const expired =
      input.expYear < now.getUTCFullYear() ||
      (input.expYear === now.getUTCFullYear() && input.expMonth < now.getUTCMonth() + 1);
    if (expired) throw new ApiError(400, 'invalid_expiry', 'The expiry date is in the past.');
    const last4 = number.slice(-4);
    const card = { brand: cardBrand(number), last4, expMonth: input.expMonth, expYear: input.expYear };
    // Letters and digits only, as Stripe's tokens: what merchants' APIs take as a token.
    const id = `tok_${randomBytes(12).toString('hex')}`;
    this.tokens.set(id, { card, behavior: behaviorForLast4(last4) });
    return { id, card: { ...card } };
  }

  /**
   * Stores the token's card for later charges. A card that asks for 3-D Secure needs the customer
   * once, on setup (`requires_action` with a challenge URL); a webhook tells how it ended.
   */
  savePaymentMethod(input: {
    token: string;
    reference: string;
    returnUrl?: string | undefined;
  }): WirePaymentMethod {
    const token = this.token(input.token);
    if (!token) throw new ApiError(400, TOKEN_NOT_FOUND, `No such token: ${input.token}`);
    const wire: WirePaymentMethod = {
      id: newId('pm'),
      object: 'payment_method',
      status: 'active',
      card: { ...token.card },
      reference: input.reference,
      created: nowSec(),
    };
    const { behavior } = token;
    if (behavior.kind === 'decline' && REFUSED_AT_SETUP.includes(behavior.code)) {
      Object.assign(wire, { status: 'failed', failureCode: behavior.code, failureMessage: behavior.message });
    } else if (behavior.kind === 'three_ds') {
      Object.assign(wire, { status: 'requires_action', actionUrl: this.deps.actionUrl(wire.id) });
    } else {
      wire.networkTransactionId = newNetworkTransactionId();
    }
    this.paymentMethods.set(wire.id, { wire, behavior, returnUrl: input.returnUrl });
    this.counters.paymentMethods += 1;
    return { ...wire, card: { ...wire.card } };
  }

  getPaymentMethod(id: string): WirePaymentMethod {
    const wire = this.paymentMethod(id).wire;
    return { ...wire, card: { ...wire.card } };
  }

  /** It can no longer be charged; detaching one detached already answers it as it is. */
  detachPaymentMethod(id: string): WirePaymentMethod {
    const { wire } = this.paymentMethod(id);
    wire.status = 'detached';
    delete wire.actionUrl;
    return { ...wire, card: { ...wire.card } };
  }

  private paymentMethod(id: string): PaymentMethodRecord {
    const record = this.paymentMethods.get(id);
    if (!record) throw new ApiError(404, 'payment_method_not_found', `No such payment method: ${id}`);
    return record;
  }

  private completeSetup(
    record: PaymentMethodRecord,
    outcome: 'succeed' | 'fail',
  ): { paymentMethod: WirePaymentMethod; returnUrl?: string } {
    const { wire } = record;
    if (wire.status !== 'requires_action')
      throw new ApiError(
        409,
        'invalid_state',
        `Cannot complete the setup of a ${wire.status} payment method.`,
      );
    delete wire.actionUrl;
    if (outcome === 'succeed') {
      wire.status = 'active';
      wire.networkTransactionId = newNetworkTransactionId();
    } else {
      Object.assign(wire, {
        status: 'failed',
        failureCode: 'authentication_failed',
        failureMessage: 'The customer failed 3-D Secure authentication.',
      });
    }
    const paymentMethod = { ...wire, card: { ...wire.card } };
    this.deps.emit({ type: 'payment_method.updated', data: { paymentMethod, reference: wire.reference } });
    return { paymentMethod, ...(record.returnUrl ? { returnUrl: record.returnUrl } : {}) };
  }

  /** The 3-D Secure page's subject: a charge or a card being saved. */
  challenge(id: string): {
    id: string;
    status: string;
    reference: string;
    last4: string;
    amount?: { amount: number; currency: Currency };
  } {
    const method = this.paymentMethods.get(id);
    if (method)
      return {
        id,
        status: method.wire.status,
        reference: method.wire.reference,
        last4: method.wire.card.last4,
      };
    const { wire } = this.record(id);
    return {
      id,
      status: wire.status,
      reference: wire.reference,
      last4: wire.card.last4,
      amount: { amount: wire.amount, currency: wire.currency },
    };
  }

  private token(id: string): TokenRecord | undefined {
    const method = this.paymentMethods.get(id);
    if (method)
      return method.wire.status === 'active'
        ? { card: method.wire.card, behavior: method.behavior }
        : undefined;
    const stored = this.tokens.get(id);
    if (stored || !id.startsWith(TEST_TOKEN_PREFIX)) return stored;
    const test = testCardByLast4(id.slice(TEST_TOKEN_PREFIX.length));
    if (!test) return undefined;
    return { card: { brand: test.brand, last4: test.last4, ...TEST_TOKEN_EXPIRY }, behavior: test.behavior };
  }

  authorize(input: {
    token: string;
    amount: number;
    currency: Currency;
    reference: string;
    capture: boolean;
    returnUrl?: string | undefined;
    offSession?: boolean | undefined;
    previousNetworkTransactionId?: string | undefined;
  }): WireAuthorization {
    if (input.offSession && !this.paymentMethods.has(input.token))
      throw new ApiError(400, 'invalid_request', 'Only a stored payment method can be charged off-session.');
    const token = this.token(input.token);
    if (!token) throw new ApiError(400, TOKEN_NOT_FOUND, `No such token: ${input.token}`);
    const id = newId('auth');
    const wire: WireAuthorization = {
      id,
      object: 'authorization',
      status: 'authorized',
      amount: input.amount,
      amountCaptured: 0,
      amountRefunded: 0,
      currency: input.currency,
      reference: input.reference,
      capture: input.capture,
      card: { ...token.card },
      created: nowSec(),
    };
    const record: AuthorizationRecord = { wire, pendingRefunds: 0, returnUrl: input.returnUrl };
    this.authorizations.set(id, record);
    this.counters.charges += 1;
    this.ref(input.reference).authorizations += 1;
    const { behavior } = token;
    switch (behavior.kind) {
      case 'succeed':
        // A merchant-initiated charge cites the chain's first transaction; others start their own.
        wire.networkTransactionId = input.previousNetworkTransactionId ?? newNetworkTransactionId();
        if (input.capture) this.applyCapture(record, input.amount);
        break;
      case 'three_ds':
        // This issuer asks for authentication on every charge: off-session, nobody can give it.
        if (input.offSession)
          Object.assign(wire, {
            status: 'declined',
            failureCode: 'authentication_required',
            failureMessage: 'The card needs the customer to authenticate this payment.',
          });
        else Object.assign(wire, { status: 'requires_action', actionUrl: this.deps.actionUrl(id) });
        break;
      case 'decline':
        Object.assign(wire, {
          status: 'declined',
          failureCode: behavior.code,
          failureMessage: behavior.message,
        });
        break;
    }
    return { ...wire };
  }

  capture(id: string, amount: number | undefined): WireAuthorization {
    const record = this.record(id);
    if (record.wire.status !== 'authorized') throw invalidState(record.wire, 'capture');
    const toCapture = amount ?? record.wire.amount;
    if (toCapture > record.wire.amount) {
      throw new ApiError(400, 'amount_too_large', 'Capture amount exceeds the authorized amount.');
    }
    this.applyCapture(record, toCapture);
    return { ...record.wire };
  }

  void(id: string): WireAuthorization {
    const record = this.record(id);
    const { status } = record.wire;
    if (status !== 'authorized' && status !== 'requires_action') throw invalidState(record.wire, 'void');
    record.wire.status = 'voided';
    delete record.wire.actionUrl;
    this.counters.voids += 1;
    this.ref(record.wire.reference).voids += 1;
    return { ...record.wire };
  }

  refund(id: string, amount: number, reason: string | undefined): WireRefund {
    const record = this.record(id);
    const { wire } = record;
    if (wire.status !== 'captured') throw invalidState(wire, 'refund');
    if (amount > wire.amountCaptured - wire.amountRefunded - record.pendingRefunds) {
      throw new ApiError(400, 'amount_too_large', 'Refund amount exceeds what remains refundable.');
    }
    const { mode, delayMs } = this.deps.refundMode();
    const refund: WireRefund = {
      id: newId('re'),
      object: 'refund',
      authorizationId: id,
      status: 'pending',
      amount,
      created: nowSec(),
    };
    if (reason !== undefined) refund.reason = reason;
    this.refunds.set(refund.id, refund);
    this.counters.refunds += 1;
    if (mode === 'succeed' || mode === 'fail') {
      this.settleRefund(record, refund, mode === 'succeed');
    } else {
      record.pendingRefunds += amount;
      this.deps.emit({ type: 'refund.updated', data: { refund: { ...refund }, reference: wire.reference } });
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        record.pendingRefunds -= amount;
        this.settleRefund(record, refund, mode === 'pending');
        this.deps.emit({
          type: 'refund.updated',
          data: { refund: { ...refund }, reference: wire.reference },
        });
      }, delayMs);
      this.timers.add(timer);
    }
    return { ...refund };
  }

  /** A card being saved: its setup ends. */
  complete3dsSetup(
    id: string,
    outcome: 'succeed' | 'fail',
  ): { paymentMethod: WirePaymentMethod; returnUrl?: string } | undefined {
    const method = this.paymentMethods.get(id);
    return method && this.completeSetup(method, outcome);
  }

  complete3ds(
    id: string,
    outcome: 'succeed' | 'fail',
  ): { authorization: WireAuthorization; returnUrl?: string } {
    const record = this.record(id);
    const { wire } = record;
    if (wire.status !== 'requires_action') throw invalidState(wire, 'complete authentication');
    delete wire.actionUrl;
    if (outcome === 'succeed') {
      wire.networkTransactionId = newNetworkTransactionId();
      if (wire.capture) this.applyCapture(record, wire.amount);
      else wire.status = 'authorized';
    } else {
      Object.assign(wire, {
        status: 'declined',
        failureCode: 'authentication_failed',
        failureMessage: 'The customer failed 3-D Secure authentication.',
      });
    }
    this.deps.emit({
      type: 'authorization.updated',
      data: { authorization: { ...wire }, reference: wire.reference },
    });
    return { authorization: { ...wire }, ...(record.returnUrl ? { returnUrl: record.returnUrl } : {}) };
  }

  get(id: string): WireAuthorization {
    return { ...this.record(id).wire };
  }

  getRefund(id: string): WireRefund {
    const refund = this.refunds.get(id);
    if (!refund) throw new ApiError(404, 'refund_not_found', `No such refund: ${id}`);
    return { ...refund };
  }

  stats(): SandboxStats {
    const byReference = Object.fromEntries([...this.byReference].map(([key, value]) => [key, { ...value }]));
    return { ...this.counters, byReference };
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private record(id: string): AuthorizationRecord {
    const record = this.authorizations.get(id);
    if (!record) throw new ApiError(404, 'authorization_not_found', `No such authorization: ${id}`);
    return record;
  }

  private applyCapture(record: AuthorizationRecord, amount: number): void {
    record.wire.status = 'captured';
    record.wire.amountCaptured = amount;
    this.counters.captures += 1;
    const ref = this.ref(record.wire.reference);
    ref.captures += 1;
    ref.capturedAmount += amount;
  }

  private settleRefund(record: AuthorizationRecord, refund: WireRefund, succeeded: boolean): void {
    if (succeeded) {
      refund.status = 'succeeded';
      record.wire.amountRefunded += refund.amount;
      this.ref(record.wire.reference).refundedAmount += refund.amount;
    } else {
      refund.status = 'failed';
      refund.failureMessage = 'The refund was declined by the card issuer.';
    }
  }

  private ref(reference: string): ReferenceStats {
    let stats = this.byReference.get(reference);
    if (!stats) {
      stats = { authorizations: 0, captures: 0, voids: 0, capturedAmount: 0, refundedAmount: 0 };
      this.byReference.set(reference, stats);
    }
    return stats;
  }
}

function invalidState(wire: WireAuthorization, action: string): ApiError {
  return new ApiError(409, 'invalid_state', `Cannot ${action} an authorization in status ${wire.status}.`);
}
