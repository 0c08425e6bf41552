import type { Currency } from '../domain/money.js';
import { GatewayRequestError } from './errors.js';
import { toStripeAmount } from './connectors/stripe/transformers.js';

/**
 * Why the named connector's gateway cannot carry `amount` of `currency`, or undefined when it
 * can: the refusal its connector would make on the first call (Stripe takes MGA in whole ariary
 * and three-decimal currencies in multiples of 10), found before a workflow starts so that the
 * request is answered with it rather than a failed payment.
 */
export function connectorAmountRefusal(
  connector: string,
  amount: number,
  currency: Currency,
): string | undefined {
  if (connector !== 'stripe') return undefined;
  try {
    toStripeAmount(amount, currency);
    return undefined;
  } catch (error) {
    if (error instanceof GatewayRequestError) return error.message;
    throw error;
  }
}
