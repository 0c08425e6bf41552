import type { Currency } from '../domain/money.js';
import type { CardDetails, FailureCode } from '../domain/payment.js';

/**
 * Paysaga's view of a payment service provider. Every write carries an idempotency key derived
 * in the workflow, so a retried activity replays the first result instead of charging again; it
 * reaches a connector at most 255 characters long (idempotency-key.ts).
 * Business declines come back as values (`status: 'declined'`), transient faults as thrown
 * errors that Temporal retries.
 */
export interface AuthorizeRequest {
  idempotencyKey: string;
  token: string;
  amount: number;
  currency: Currency;
  /** Paysaga's payment id; the gateway echoes it in webhooks. */
  reference: string;
  /** Capture at once (a sale) instead of only authorizing. */
  capture: boolean;
  /** Where the customer returns after 3-D Secure. */
  returnUrl?: string | undefined;
  /**
   * The card is one the customer saved (`token` is the gateway's id of it, from `saveMethod`).
   * Off-session: the customer is not there, so a card that needs authentication is declined
   * `authentication_required` instead of asking for 3-D Secure.
   */
  saved?: SavedCardCharge | undefined;
}

export interface SavedCardCharge {
  offSession: boolean;
  /** The gateway's customer the method is attached to (gateways with customer objects). */
  gatewayCustomerId?: string | undefined;
  /** The network's id of the customer's first authenticated payment (merchant-initiated charges cite it). */
  networkTransactionId?: string | undefined;
}

export type AuthorizationStatus = 'authorized' | 'captured' | 'requires_action' | 'declined' | 'voided';

export interface Authorization {
  /** The gateway's id for this charge. */
  id: string;
  status: AuthorizationStatus;
  amount: number;
  amountCaptured: number;
  amountRefunded: number;
  currency: Currency;
  card?: CardDetails | undefined;
  /** Set when `status` is `requires_action`: where to send the customer. */
  actionUrl?: string | undefined;
  /** Set when `status` is `declined`. */
  failureCode?: FailureCode | undefined;
  failureMessage?: string | undefined;
  /** The card network's transaction id, where the gateway gives it. */
  networkTransactionId?: string | undefined;
}

export interface CaptureRequest {
  idempotencyKey: string;
  authorizationId: string;
  amount: number;
  /** The payment's currency (some gateways count some currencies in other units); absent in older histories. */
  currency?: Currency | undefined;
}

export interface VoidRequest {
  idempotencyKey: string;
  authorizationId: string;
}

export interface RefundRequest {
  idempotencyKey: string;
  authorizationId: string;
  amount: number;
  reason?: string | undefined;
}

export type RefundStatus = 'succeeded' | 'pending' | 'failed';

export interface GatewayRefund {
  id: string;
  authorizationId: string;
  status: RefundStatus;
  amount: number;
  failureMessage?: string | undefined;
}

/**
 * A checkout session on the gateway's own hosted page, for one Paysaga checkout session: the
 * customer pays there, and the gateway's webhook says so.
 */
export interface CheckoutSessionRequest {
  idempotencyKey: string;
  /** Paysaga's checkout session id; the gateway echoes it in webhooks. */
  reference: string;
  tenantId: string;
  orderId: string;
  amount: number;
  currency: Currency;
  /** What the page says the customer pays for. */
  name: string;
  successUrl: string;
  cancelUrl: string;
  expiresAt: string;
}

export type GatewayCheckoutStatus = 'open' | 'complete' | 'expired';

export interface GatewayCheckoutSession {
  /** The gateway's id for it. */
  id: string;
  /** The gateway's hosted page: where the customer is sent. */
  url: string;
  status: GatewayCheckoutStatus;
  /** The authorization the customer's payment made (set once it is `complete`). */
  authorizationId?: string | undefined;
}

export interface ExpireCheckoutSessionRequest {
  idempotencyKey: string;
  sessionId: string;
}

/**
 * Saving a card for later (Stripe's SetupIntent, a vault's stored token): the gateway keeps the
 * card and answers with its own id to charge later. Idempotent by the request's key.
 */
export interface SaveMethodRequest {
  idempotencyKey: string;
  /** The one-time token the customer's device made. */
  token: string;
  /** Paysaga's payment method id; the gateway echoes it in webhooks. */
  reference: string;
  tenantId: string;
  /** Paysaga's customer (the merchant's id). */
  customerId: string;
  /** The gateway's customer for this customer, from an earlier save (gateways with customer objects). */
  gatewayCustomerId?: string | undefined;
  /** Where the customer returns after 3-D Secure on setup. */
  returnUrl?: string | undefined;
}

export type SavedMethodStatus = 'active' | 'requires_action' | 'failed';

export interface GatewaySavedMethod {
  /** The gateway's id of the saved card: the `token` of later authorizations. */
  id: string;
  status: SavedMethodStatus;
  card?: CardDetails | undefined;
  gatewayCustomerId?: string | undefined;
  /** The gateway's id of the setup (a SetupIntent), to read it again while it waits for the customer. */
  setupId?: string | undefined;
  /** Set when `status` is `requires_action`: where to send the customer. */
  actionUrl?: string | undefined;
  networkTransactionId?: string | undefined;
  /** Set when `status` is `failed`. */
  failureCode?: FailureCode | undefined;
  failureMessage?: string | undefined;
}

export interface SavedMethodRef {
  /** The gateway's id of the saved card. */
  id: string;
  setupId?: string | undefined;
}

export interface DeleteMethodRequest {
  idempotencyKey: string;
  id: string;
}

export type WebhookEvent =
  | { type: 'authorization.updated'; eventId: string; authorization: Authorization; reference: string }
  | { type: 'refund.updated'; eventId: string; refund: GatewayRefund; reference: string }
  | {
      type: 'checkout_session.updated';
      eventId: string;
      session: GatewayCheckoutSession;
      /** Paysaga's checkout session id and tenant, from the session's metadata. */
      reference: string;
      tenantId: string;
    }
  | {
      type: 'payment_method.updated';
      eventId: string;
      method: GatewaySavedMethod;
      /** Paysaga's payment method id. */
      reference: string;
    };

export interface AuthorizationLookupRequest {
  /** The key the authorization was sent with (as the connector sent it). */
  idempotencyKey: string;
  /** Paysaga's payment id it was sent with. */
  reference: string;
}

/** What a connector charges: cards (tokens, saved cards) or a PayPal account. */
export type GatewayMethod = 'card' | 'paypal';

export interface PaymentGateway {
  readonly name: string;
  /** Cards unless it says otherwise. */
  readonly methods?: readonly GatewayMethod[];
  authorize(request: AuthorizeRequest): Promise<Authorization>;
  capture(request: CaptureRequest): Promise<Authorization>;
  void(request: VoidRequest): Promise<Authorization>;
  refund(request: RefundRequest): Promise<GatewayRefund>;
  status(authorizationId: string): Promise<Authorization>;
  /**
   * The authorization an earlier `authorize` with this idempotency key made, or undefined when
   * the gateway has none: a read that never charges, asked before a payment moves to another
   * connector after an answer that never came (optional: without it such a payment stays on
   * this connector).
   */
  findAuthorization?(lookup: AuthorizationLookupRequest): Promise<Authorization | undefined>;
  /**
   * Verifies the signature over the raw body and parses the events it carries (none for a
   * verified event that moves nothing); throws `WebhookSignatureError` on a bad signature.
   * Gateways whose signatures need a certificate fetched (PayPal) answer with a promise.
   */
  parseWebhook(
    rawBody: Buffer,
    headers: Record<string, string | string[] | undefined>,
  ): WebhookEvent[] | Promise<WebhookEvent[]>;
  /**
   * A checkout session on the gateway's hosted page (optional: a connector without one leaves
   * Paysaga's own page in use). Idempotent by the request's key.
   */
  createCheckoutSession?(request: CheckoutSessionRequest): Promise<GatewayCheckoutSession>;
  /** Ends an open one; one that has ended already is answered as it is. */
  expireCheckoutSession?(request: ExpireCheckoutSessionRequest): Promise<GatewayCheckoutSession>;
  /**
   * Saved cards (optional: a connector without them refuses to save one). `saveMethod` may answer
   * `requires_action` (3-D Secure on setup); the gateway's webhook, or `savedMethod`, tells the rest.
   */
  saveMethod?(request: SaveMethodRequest): Promise<GatewaySavedMethod>;
  savedMethod?(ref: SavedMethodRef): Promise<GatewaySavedMethod>;
  /** Detaches it at the gateway: it can no longer be charged. One gone already is no error. */
  deleteMethod?(request: DeleteMethodRequest): Promise<void>;
  /** Resolves when the provider answers (for /readyz); throws otherwise. */
  ping(): Promise<void>;
}
