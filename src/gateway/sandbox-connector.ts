import { z } from 'zod';
import type {
  Authorization,
  AuthorizeRequest,
  CaptureRequest,
  GatewayRefund,
  PaymentGateway,
  RefundRequest,
  VoidRequest,
  WebhookEvent,
} from './port.js';
import {
  SANDBOX_TOKEN_NOT_FOUND,
  toAuthorization,
  toRefund,
  wireAuthorization,
  wireError,
  wireEvent,
  wireRefund,
} from './sandbox-mapping.js';
import { SIGNATURE_HEADER, verifyWebhookSignature } from './webhook-signature.js';

/**
 * Transient: the gateway could not be reached or answered 5xx/429, so the outcome is unknown.
 * Safe to retry because every write carries the same idempotency key.
 */
export class GatewayUnavailableError extends Error {
  override readonly name = 'GatewayUnavailableError';
  readonly retryable = true;
  constructor(
    message: string,
    readonly statusCode?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The gateway refused the request itself (bad state, amount, id): retrying cannot help. */
export class GatewayRequestError extends Error {
  override readonly name = 'GatewayRequestError';
  readonly retryable = false;
  constructor(
    readonly code: string,
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
  }
}

export interface SandboxGatewayOptions {
  baseUrl: string;
  webhookSecret: string;
  /** Per request, including reading the body. */
  timeoutMs?: number;
  webhookToleranceSec?: number;
  /** Clock for webhook timestamp checks, in milliseconds. */
  now?: () => number;
}

interface RawResponse {
  status: number;
  body: unknown;
}

export class SandboxGateway implements PaymentGateway {
  readonly name = 'sandbox';
  private readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: SandboxGatewayOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  async authorize(request: AuthorizeRequest): Promise<Authorization> {
    const { idempotencyKey, token, amount, currency, reference, capture, returnUrl } = request;
    const body = { token, amount, currency, reference, capture, ...(returnUrl ? { returnUrl } : {}) };
    const response = await this.send('POST', '/authorizations', body, idempotencyKey);
    // An unknown token is the customer's card being unusable: a final decline, not a fault.
    if (errorCode(response) === SANDBOX_TOKEN_NOT_FOUND) {
      return {
        id: '',
        status: 'declined',
        amount,
        amountCaptured: 0,
        amountRefunded: 0,
        currency,
        failureCode: 'invalid_card',
        failureMessage: 'Unknown card token',
      };
    }
    return toAuthorization(expect(response, wireAuthorization));
  }

  async capture(request: CaptureRequest): Promise<Authorization> {
    const path = `/authorizations/${encodeURIComponent(request.authorizationId)}/capture`;
    const response = await this.send('POST', path, { amount: request.amount }, request.idempotencyKey);
    return toAuthorization(expect(response, wireAuthorization));
  }

  async void(request: VoidRequest): Promise<Authorization> {
    const path = `/authorizations/${encodeURIComponent(request.authorizationId)}/void`;
    const response = await this.send('POST', path, {}, request.idempotencyKey);
    return toAuthorization(expect(response, wireAuthorization));
  }

  async refund(request: RefundRequest): Promise<GatewayRefund> {
    const path = `/authorizations/${encodeURIComponent(request.authorizationId)}/refunds`;
    const body = {
      amount: request.amount,
      ...(request.reason !== undefined ? { reason: request.reason } : {}),
    };
    const response = await this.send('POST', path, body, request.idempotencyKey);
    return toRefund(expect(response, wireRefund));
  }

  async status(authorizationId: string): Promise<Authorization> {
    const response = await this.send('GET', `/authorizations/${encodeURIComponent(authorizationId)}`);
    return toAuthorization(expect(response, wireAuthorization));
  }

  parseWebhook(rawBody: Buffer, headers: Record<string, string | string[] | undefined>): WebhookEvent {
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
    let json: unknown;
    try {
      json = JSON.parse(rawBody.toString('utf8'));
    } catch {
      throw new GatewayRequestError('invalid_webhook_payload', 'Webhook body is not JSON', 400);
    }
    const parsed = wireEvent.safeParse(json);
    if (!parsed.success) {
      throw new GatewayRequestError('invalid_webhook_payload', z.prettifyError(parsed.error), 400);
    }
    const event = parsed.data;
    switch (event.type) {
      case 'authorization.updated':
        return {
          type: event.type,
          eventId: event.id,
          authorization: toAuthorization(event.data.authorization),
          reference: event.data.reference,
        };
      case 'refund.updated':
        return {
          type: event.type,
          eventId: event.id,
          refund: toRefund(event.data.refund),
          reference: event.data.reference,
        };
    }
  }

  private async send(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    idempotencyKey?: string,
  ): Promise<RawResponse> {
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
      // Timeout, refused or reset connection: the request may or may not have been applied.
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new GatewayUnavailableError(
        `Sandbox gateway unreachable (${method} ${path}): ${reason}`,
        undefined,
        {
          cause: error,
        },
      );
    }
    if (status >= 500 || status === 429 || status === 408) {
      throw new GatewayUnavailableError(`Sandbox gateway answered ${status} (${method} ${path})`, status);
    }
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new GatewayRequestError(
        'invalid_response',
        `Sandbox gateway answered ${status} with a non-JSON body`,
        status,
      );
    }
    const response = { status, body: json };
    if (errorCode(response) === 'idempotency_key_in_use') {
      throw new GatewayUnavailableError('A request with this idempotency key is still in flight', status);
    }
    return response;
  }
}

function errorCode(response: RawResponse): string | undefined {
  if (response.status < 400) return undefined;
  const parsed = wireError.safeParse(response.body);
  return parsed.success ? parsed.data.error.code : undefined;
}

function expect<T>(response: RawResponse, schema: z.ZodType<T>): T {
  if (response.status >= 200 && response.status < 300) {
    const parsed = schema.safeParse(response.body);
    if (parsed.success) return parsed.data;
    throw new GatewayRequestError('invalid_response', z.prettifyError(parsed.error), response.status);
  }
  const parsed = wireError.safeParse(response.body);
  const code = parsed.success ? parsed.data.error.code : `http_${response.status}`;
  const message = parsed.success
    ? (parsed.data.error.message ?? code)
    : `Sandbox gateway answered ${response.status}`;
  throw new GatewayRequestError(code, message, response.status);
}
