import type {
  Authorization,
  AuthorizationLookupRequest,
  AuthorizeRequest,
  CaptureRequest,
  DeleteMethodRequest,
  GatewayRefund,
  GatewaySavedMethod,
  SaveMethodRequest,
  SavedMethodRef,
  PaymentGateway,
  RefundRequest,
  VoidRequest,
  WebhookEvent,
} from '../../port.js';
import { SIGNATURE_HEADER, verifyWebhookSignature } from '../../webhook-signature.js';
import {
  errorCode,
  expectBody,
  readResponse,
  SANDBOX_TOKEN_NOT_FOUND,
  toAuthorization,
  toAuthorizeBody,
  toFindAuthorizationQuery,
  toRefund,
  toRefundBody,
  toSavedMethod,
  toSavePaymentMethodBody,
  toWebhookEvent,
  unknownTokenDecline,
  unreachable,
  wireAuthorization,
  wireAuthorizationList,
  wirePaymentMethod,
  wireRefund,
  type SandboxResponse,
} from './transformers.js';

export interface SandboxConnectorOptions {
  baseUrl: string;
  webhookSecret: string;
  /** Per request, including reading the body. */
  timeoutMs?: number;
  webhookToleranceSec?: number;
  /** Clock for webhook timestamp checks, in milliseconds. */
  now?: () => number;
}

/**
 * The client for the sandbox PSP (the `sandbox/` program): HTTP and webhook signatures here,
 * every translation in transformers.ts. Every write sends the workflow's idempotency key.
 */
export class SandboxConnector implements PaymentGateway {
  readonly name = 'sandbox';
  private readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: SandboxConnectorOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  async authorize(request: AuthorizeRequest): Promise<Authorization> {
    const response = await this.send(
      'POST',
      '/authorizations',
      toAuthorizeBody(request),
      request.idempotencyKey,
    );
    if (errorCode(response) === SANDBOX_TOKEN_NOT_FOUND) return unknownTokenDecline(request);
    return toAuthorization(expectBody(response, wireAuthorization));
  }

  async capture(request: CaptureRequest): Promise<Authorization> {
    const path = `/authorizations/${encodeURIComponent(request.authorizationId)}/capture`;
    const response = await this.send('POST', path, { amount: request.amount }, request.idempotencyKey);
    return toAuthorization(expectBody(response, wireAuthorization));
  }

  async void(request: VoidRequest): Promise<Authorization> {
    const path = `/authorizations/${encodeURIComponent(request.authorizationId)}/void`;
    const response = await this.send('POST', path, {}, request.idempotencyKey);
    return toAuthorization(expectBody(response, wireAuthorization));
  }

  async refund(request: RefundRequest): Promise<GatewayRefund> {
    const path = `/authorizations/${encodeURIComponent(request.authorizationId)}/refunds`;
    const response = await this.send('POST', path, toRefundBody(request), request.idempotencyKey);
    return toRefund(expectBody(response, wireRefund));
  }

  async status(authorizationId: string): Promise<Authorization> {
    const response = await this.send('GET', `/authorizations/${encodeURIComponent(authorizationId)}`);
    return toAuthorization(expectBody(response, wireAuthorization));
  }

  /**
   * The authorization an `authorize` with this key made, as it is now (a read: the sandbox
   * answers it even while it fails writes), or undefined when that call created none.
   */
  async findAuthorization(lookup: AuthorizationLookupRequest): Promise<Authorization | undefined> {
    const response = await this.send('GET', `/authorizations?${toFindAuthorizationQuery(lookup)}`);
    const [found] = expectBody(response, wireAuthorizationList).data;
    return found ? toAuthorization(found) : undefined;
  }

  /** The sandbox stores the card itself (no customer object): its id is the token to charge. */
  async saveMethod(request: SaveMethodRequest): Promise<GatewaySavedMethod> {
    const response = await this.send(
      'POST',
      '/payment_methods',
      toSavePaymentMethodBody(request),
      request.idempotencyKey,
    );
    if (errorCode(response) === SANDBOX_TOKEN_NOT_FOUND)
      return { id: '', status: 'failed', failureCode: 'invalid_card', failureMessage: 'Unknown card token' };
    return toSavedMethod(expectBody(response, wirePaymentMethod));
  }

  async savedMethod(ref: SavedMethodRef): Promise<GatewaySavedMethod> {
    const response = await this.send('GET', `/payment_methods/${encodeURIComponent(ref.id)}`);
    return toSavedMethod(expectBody(response, wirePaymentMethod));
  }

  async deleteMethod(request: DeleteMethodRequest): Promise<void> {
    const path = `/payment_methods/${encodeURIComponent(request.id)}/detach`;
    const response = await this.send('POST', path, {}, request.idempotencyKey);
    if (response.status === 404) return;
    expectBody(response, wirePaymentMethod);
  }

  async ping(): Promise<void> {
    const response = await fetch(`${this.baseUrl}/healthz`, { signal: AbortSignal.timeout(this.timeoutMs) });
    if (!response.ok) throw new Error(`sandbox gateway answered ${response.status}`);
  }

  parseWebhook(rawBody: Buffer, headers: Record<string, string | string[] | undefined>): WebhookEvent[] {
    const wanted = SIGNATURE_HEADER.toLowerCase();
    const value = Object.entries(headers).find(([name]) => name.toLowerCase() === wanted)?.[1];
    const header = Array.isArray(value) ? value[0] : value;
    const nowSec = Math.floor((this.options.now?.() ?? Date.now()) / 1000);
    verifyWebhookSignature(
      this.options.webhookSecret,
      rawBody,
      header,
      nowSec,
      this.options.webhookToleranceSec,
    );
    return [toWebhookEvent(rawBody)];
  }

  private async send(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    idempotencyKey?: string,
  ): Promise<SandboxResponse> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
    let status: number;
    let text: string;
    try {
      const response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      throw unreachable(`${method} ${path}`, error);
    }
    return readResponse(`${method} ${path}`, status, text);
  }
}
