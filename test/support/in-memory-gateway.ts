import type { FailureCode } from '../../src/domain/payment.js';
import { GatewayRequestError, GatewayUnavailableError } from '../../src/gateway/errors.js';
import type {
  Authorization,
  AuthorizeRequest,
  CaptureRequest,
  CheckoutSessionRequest,
  ExpireCheckoutSessionRequest,
  GatewayCheckoutSession,
  GatewayRefund,
  PaymentGateway,
  RefundRequest,
  RefundStatus,
  VoidRequest,
  WebhookEvent,
} from '../../src/gateway/port.js';
import {
  SIGNATURE_HEADER,
  signWebhook,
  verifyWebhookSignature,
} from '../../src/gateway/webhook-signature.js';

/** The in-memory gateway's test cards; any other `tok_` token is a good card. */
export const IN_MEMORY_CARDS = {
  approved: 'tok_ok',
  declined: [
    { token: 'tok_decline', failureCode: 'card_declined' },
    { token: 'tok_insufficient_funds', failureCode: 'insufficient_funds' },
  ] as const satisfies readonly { token: string; failureCode: FailureCode }[],
  threeDS: 'tok_3ds',
  /** Not a `tok_` token: one this gateway never issued. */
  unknown: 'pm_never_issued',
};

const DECLINES: ReadonlyMap<string, FailureCode> = new Map(
  IN_MEMORY_CARDS.declined.map(({ token, failureCode }) => [token, failureCode]),
);

export type GatewayOperation = 'authorize' | 'capture' | 'void' | 'refund' | 'status' | 'ping' | 'checkout';
const OPERATIONS: readonly GatewayOperation[] = [
  'authorize',
  'capture',
  'void',
  'refund',
  'status',
  'ping',
  'checkout',
];

interface Charge {
  authorization: Authorization;
  reference: string;
  sale: boolean;
}

/**
 * A payment gateway in memory that keeps the port's promises (test/contract/payment-gateway.ts
 * holds it to them, as it does the real connectors): idempotent writes, declines as values,
 * captures, voids and refunds within what was authorized and captured, 3-D Secure, signed
 * webhooks. Ids are `auth_1`, `auth_2`, ... in the order authorizations are made, so a workflow
 * test knows them. Tests pull its levers as the network or the customer would.
 */
export class InMemoryGateway implements PaymentGateway {
  private readonly charges = new Map<string, Charge>();
  private readonly refunds = new Map<string, GatewayRefund>();
  private readonly replies = new Map<string, unknown>();
  private readonly checkouts = new Map<
    string,
    GatewayCheckoutSession & { request: CheckoutSessionRequest }
  >();
  private lostAnswers = 0;
  private readonly unavailable = new Set<GatewayOperation>();
  /** How a new refund settles: at once, or later (`pending`), as some gateways do. */
  refundStatus: RefundStatus = 'succeeded';

  constructor(
    private readonly options: { webhookSecret: string; name?: string } = { webhookSecret: 'whsec_in_memory' },
  ) {}

  get name(): string {
    return this.options.name ?? 'in-memory';
  }

  /** The same gateway's state under another connector name (a tenant's other connector in a test). */
  as(name: string): PaymentGateway {
    return new Proxy(this, {
      get: (target, property, receiver) =>
        property === 'name' ? name : (Reflect.get(target, property, receiver) as unknown),
    });
  }

  /** From now on these operations (all, without any) answer as a gateway that is down. */
  goDown(...operations: GatewayOperation[]): this {
    for (const operation of operations.length > 0 ? operations : OPERATIONS) this.unavailable.add(operation);
    return this;
  }

  /** The next authorization is made, then its answer is lost. */
  loseNextAnswer(): void {
    this.lostAnswers += 1;
  }

  /** The customer finishes (or fails) 3-D Secure. */
  completeChallenge(authorizationId: string, outcome: 'succeed' | 'fail'): void {
    const charge = this.charge(authorizationId);
    if (charge.authorization.status !== 'requires_action')
      throw new Error(`${authorizationId} is not waiting for 3-D Secure`);
    charge.authorization =
      outcome === 'succeed'
        ? this.approve(charge.authorization, charge.sale)
        : this.decline(charge.authorization, 'authentication_failed');
  }

  /** The `authorization.updated` webhook this gateway sends about one authorization, signed. */
  signedWebhook(authorizationId: string): { body: Buffer; headers: Record<string, string> } {
    const { authorization, reference } = this.charge(authorizationId);
    const body = Buffer.from(JSON.stringify({ eventId: `evt_${authorizationId}`, authorization, reference }));
    const signature = signWebhook(this.options.webhookSecret, body, Math.floor(Date.now() / 1000));
    return { body, headers: { [SIGNATURE_HEADER]: signature } };
  }

  async authorize(request: AuthorizeRequest): Promise<Authorization> {
    const authorization = this.once('authorize', request.idempotencyKey, () => this.create(request));
    if (this.lostAnswers > 0) {
      this.lostAnswers -= 1;
      throw new GatewayUnavailableError('in-memory gateway: the answer was lost');
    }
    return authorization;
  }

  async capture(request: CaptureRequest): Promise<Authorization> {
    return this.once('capture', request.idempotencyKey, () => {
      const charge = this.charge(request.authorizationId);
      this.expectStatus(charge, 'authorized');
      if (request.amount > charge.authorization.amount)
        throw new GatewayRequestError('amount_too_large', 'Capture exceeds the authorization', 400);
      charge.authorization = { ...charge.authorization, status: 'captured', amountCaptured: request.amount };
      return { ...charge.authorization };
    });
  }

  async void(request: VoidRequest): Promise<Authorization> {
    return this.once('void', request.idempotencyKey, () => {
      const charge = this.charge(request.authorizationId);
      this.expectStatus(charge, 'authorized', 'requires_action');
      charge.authorization = { ...charge.authorization, status: 'voided', actionUrl: undefined };
      return { ...charge.authorization };
    });
  }

  async refund(request: RefundRequest): Promise<GatewayRefund> {
    return this.once('refund', request.idempotencyKey, () => {
      const charge = this.charge(request.authorizationId);
      this.expectStatus(charge, 'captured');
      const { amountCaptured, amountRefunded } = charge.authorization;
      if (request.amount > amountCaptured - amountRefunded)
        throw new GatewayRequestError('amount_too_large', 'Refund exceeds what is left to refund', 400);
      const refund: GatewayRefund = {
        id: `re_${this.refunds.size + 1}`,
        authorizationId: request.authorizationId,
        status: this.refundStatus,
        amount: request.amount,
      };
      this.refunds.set(refund.id, refund);
      if (refund.status !== 'failed')
        charge.authorization = { ...charge.authorization, amountRefunded: amountRefunded + request.amount };
      return { ...refund };
    });
  }

  async status(authorizationId: string): Promise<Authorization> {
    this.reach('status');
    return { ...this.charge(authorizationId).authorization };
  }

  parseWebhook(rawBody: Buffer, headers: Record<string, string | string[] | undefined>): WebhookEvent[] {
    const value = headers[SIGNATURE_HEADER];
    const header = Array.isArray(value) ? value[0] : value;
    verifyWebhookSignature(this.options.webhookSecret, rawBody, header, Math.floor(Date.now() / 1000));
    const event = JSON.parse(rawBody.toString('utf8')) as {
      eventId: string;
      authorization: Authorization;
      reference: string;
    };
    return [{ type: 'authorization.updated', ...event }];
  }

  async ping(): Promise<void> {
    this.reach('ping');
  }

  /** A checkout session on this gateway's own page: `gcs_1`, `gcs_2`, ... */
  async createCheckoutSession(request: CheckoutSessionRequest): Promise<GatewayCheckoutSession> {
    return this.once('checkout', request.idempotencyKey, () => {
      const id = `gcs_${this.checkouts.size + 1}`;
      const session = { id, url: `https://gateway.test/pay/${id}`, status: 'open' as const };
      this.checkouts.set(id, { ...session, request });
      return session;
    });
  }

  /** Ends an open page; one that ended is answered as it is. */
  async expireCheckoutSession(request: ExpireCheckoutSessionRequest): Promise<GatewayCheckoutSession> {
    this.reach('checkout');
    const session = this.checkouts.get(request.sessionId);
    if (!session) throw new GatewayRequestError('not_found', `No checkout session ${request.sessionId}`, 404);
    if (session.status === 'open') session.status = 'expired';
    const { request: _request, ...answer } = session;
    return answer;
  }

  /** The customer pays on the page: a captured sale of its amount; returns its authorization id. */
  payCheckout(sessionId: string): string {
    const session = this.checkouts.get(sessionId);
    if (session?.status !== 'open') throw new Error(`checkout session ${sessionId} is not open`);
    const { amount, currency, reference } = session.request;
    const sale = this.create({
      idempotencyKey: `pay ${sessionId}`,
      token: IN_MEMORY_CARDS.approved,
      amount,
      currency,
      reference,
      capture: true,
    });
    Object.assign(session, { status: 'complete', authorizationId: sale.id });
    return sale.id;
  }

  /** A write done once per idempotency key: a retry gets the first answer (or refusal) again. */
  private once<T>(operation: GatewayOperation, idempotencyKey: string, write: () => T): T {
    this.reach(operation);
    const key = `${operation} ${idempotencyKey}`;
    if (!this.replies.has(key)) {
      try {
        this.replies.set(key, { value: write() });
      } catch (error) {
        if (!(error instanceof GatewayRequestError)) throw error;
        this.replies.set(key, { error });
      }
    }
    const reply = this.replies.get(key) as { value?: T; error?: Error };
    if (reply.error) throw reply.error;
    return structuredClone(reply.value as T);
  }

  private create(request: AuthorizeRequest): Authorization {
    const pending: Authorization = {
      id: `auth_${this.charges.size + 1}`,
      status: 'requires_action',
      amount: request.amount,
      amountCaptured: 0,
      amountRefunded: 0,
      currency: request.currency,
      card: { brand: 'visa', last4: '4242', expMonth: 12, expYear: 2030 },
    };
    const failureCode = request.token.startsWith('tok_') ? DECLINES.get(request.token) : 'invalid_card';
    const authorization = failureCode
      ? this.decline(pending, failureCode)
      : request.token === IN_MEMORY_CARDS.threeDS
        ? { ...pending, actionUrl: `https://gateway.test/3ds/${pending.id}` }
        : this.approve(pending, request.capture);
    this.charges.set(pending.id, { authorization, reference: request.reference, sale: request.capture });
    return { ...authorization };
  }

  private approve(authorization: Authorization, sale: boolean): Authorization {
    return {
      ...authorization,
      status: sale ? 'captured' : 'authorized',
      amountCaptured: sale ? authorization.amount : 0,
      actionUrl: undefined,
    };
  }

  private decline(authorization: Authorization, failureCode: FailureCode): Authorization {
    return {
      ...authorization,
      status: 'declined',
      actionUrl: undefined,
      failureCode,
      failureMessage: `The card was declined (${failureCode})`,
    };
  }

  private charge(authorizationId: string): Charge {
    const charge = this.charges.get(authorizationId);
    if (!charge) throw new GatewayRequestError('not_found', `No authorization ${authorizationId}`, 404);
    return charge;
  }

  private expectStatus(charge: Charge, ...allowed: Authorization['status'][]): void {
    if (!allowed.includes(charge.authorization.status))
      throw new GatewayRequestError('invalid_state', `Authorization is ${charge.authorization.status}`, 409);
  }

  private reach(operation: GatewayOperation): void {
    if (this.unavailable.has(operation))
      throw new GatewayUnavailableError(`in-memory gateway: ${operation} answered 503`, 503);
  }
}
