import { describe, expect, it } from 'vitest';
import {
  declineCodeToFailureCode,
  expectBody,
  readResponse,
  SANDBOX_AUTHORIZATION_STATUSES,
  SANDBOX_DECLINE_CODES,
  toAuthorization,
  toAuthorizationStatus,
  toRefundStatus,
  toWebhookEvent,
  unreachable,
  wireAuthorization,
} from '../../src/gateway/connectors/sandbox/transformers.js';
import { GatewayRequestError, GatewayUnavailableError } from '../../src/gateway/errors.js';

const wire = {
  id: 'auth_1',
  status: 'authorized' as const,
  amount: 4200,
  amountCaptured: 0,
  amountRefunded: 0,
  currency: 'USD' as const,
};

const thrown = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
};

describe('sandbox transformers: statuses and decline codes', () => {
  it('maps every sandbox authorization and refund status onto the port', () => {
    expect(SANDBOX_AUTHORIZATION_STATUSES.map(toAuthorizationStatus)).toEqual([
      'requires_action',
      'authorized',
      'captured',
      'declined',
      'voided',
    ]);
    expect(toRefundStatus('pending')).toBe('pending');
    expect(toRefundStatus('failed')).toBe('failed');
  });

  it('maps every sandbox decline code to the failure code of the same name, and an unknown one to card_declined', () => {
    for (const code of SANDBOX_DECLINE_CODES) expect(declineCodeToFailureCode(code)).toBe(code);
    expect(declineCodeToFailureCode('do_not_honor')).toBe('card_declined');
    expect(declineCodeToFailureCode(undefined)).toBe('card_declined');
  });

  it('carries a failure code only on a declined authorization', () => {
    expect(toAuthorization({ ...wire, failureCode: 'fraud_suspected' }).failureCode).toBeUndefined();
    expect(toAuthorization({ ...wire, status: 'declined', failureCode: 'fraud_suspected' })).toMatchObject({
      status: 'declined',
      failureCode: 'fraud_suspected',
    });
  });
});

describe('sandbox transformers: errors', () => {
  it.each([500, 502, 503, 429, 408])('%i is transient: GatewayUnavailableError', (status) => {
    const error = thrown(() => readResponse('POST /x', status, '{"error":{"code":"api_error"}}'));
    expect(error).toBeInstanceOf(GatewayUnavailableError);
    expect(error).toMatchObject({ statusCode: status, retryable: true });
  });

  it('a network failure is transient: GatewayUnavailableError with its cause', () => {
    const cause = new TypeError('fetch failed');
    const error = unreachable('GET /x', cause);
    expect(error).toBeInstanceOf(GatewayUnavailableError);
    expect(error.cause).toBe(cause);
  });

  it('a key still in flight is transient', () => {
    const body = '{"error":{"code":"idempotency_key_in_use"}}';
    expect(thrown(() => readResponse('POST /x', 409, body))).toBeInstanceOf(GatewayUnavailableError);
  });

  it.each([400, 404, 409, 422])('%i is a refusal: GatewayRequestError with the sandbox code', (status) => {
    const response = readResponse('POST /x', status, '{"error":{"code":"invalid_state","message":"no"}}');
    const error = thrown(() => expectBody(response, wireAuthorization));
    expect(error).toBeInstanceOf(GatewayRequestError);
    expect(error).toMatchObject({
      code: 'invalid_state',
      message: 'no',
      statusCode: status,
      retryable: false,
    });
  });

  it('a body that is not JSON, or not the expected shape, is a refusal', () => {
    expect(thrown(() => readResponse('GET /x', 200, '<html>'))).toBeInstanceOf(GatewayRequestError);
    const odd = readResponse('GET /x', 200, JSON.stringify({ ...wire, status: 'pending_review' }));
    expect(thrown(() => expectBody(odd, wireAuthorization))).toMatchObject({ code: 'invalid_response' });
  });

  it('a webhook body that is not a sandbox event is a refusal', () => {
    const error = thrown(() => toWebhookEvent(Buffer.from('{"type":"charge.succeeded"}')));
    expect(error).toBeInstanceOf(GatewayRequestError);
    expect(error).toMatchObject({ code: 'invalid_webhook_payload' });
  });
});
