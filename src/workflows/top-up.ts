import { log, workflowInfo } from '@temporalio/workflow';
import { gatewayActivities, store } from './activities.js';
import { classifyFailure } from './failures.js';
import { Saga } from './saga.js';
import { cloudEvent } from '../domain/events.js';
import { gatewayIdempotencyKey, transferId } from '../domain/ids.js';
import { isCardExpired, type FailureCode } from '../domain/payment.js';
import { savedCharge } from './saved-card.js';
import { LEGACY_CONNECTOR, type TopUpResult, type TopUpWorkflowInput } from './contract.js';

/**
 * A wallet top-up by card: charge the card (a sale), then credit the wallet. If the credit
 * cannot happen, the charge is refunded, so the customer is never charged for money they did
 * not get. 3-D Secure is not offered for top-ups: a card that asks for it is voided and the
 * top-up fails with `authentication_failed`.
 */
export async function topUpWorkflow(input: TopUpWorkflowInput): Promise<TopUpResult> {
  const { workflowId } = workflowInfo();
  const gateway = gatewayActivities();
  // The connector and the tenant's account on it (each tenant has its own credentials).
  const route = { connector: input.connector ?? LEGACY_CONNECTOR, tenantId: input.tenantId };
  const fail = (failureCode: FailureCode, failureMessage: string): TopUpResult => ({
    status: 'failed',
    failureCode,
    failureMessage,
  });

  const { saved } = input;
  // A saved card past its expiry is refused before the gateway is called.
  if (saved && isCardExpired(saved, new Date()))
    return fail('expired_card', `the saved card expired at the end of ${saved.expMonth}/${saved.expYear}`);
  let charge;
  try {
    charge = await gateway.authorizeCard({
      ...route,
      idempotencyKey: gatewayIdempotencyKey(workflowId, 'charge'),
      token: input.token,
      amount: input.amount,
      currency: input.currency,
      reference: workflowId,
      capture: true,
      ...(saved ? { saved: savedCharge(saved) } : {}),
    });
  } catch (error) {
    classifyFailure(error); // rethrows what is not an activity's failure
    return fail('processing_error', 'the card could not be charged');
  }
  switch (charge.status) {
    case 'declined':
    case 'voided':
      return fail(charge.failureCode ?? 'card_declined', charge.failureMessage ?? 'the card was declined');
    case 'requires_action':
      await gateway.voidCard({
        ...route,
        idempotencyKey: gatewayIdempotencyKey(workflowId, 'void'),
        authorizationId: charge.id,
      });
      return fail('authentication_failed', 'top-ups do not support 3-D Secure cards');
    case 'authorized':
      await gateway.captureCard({
        ...route,
        idempotencyKey: gatewayIdempotencyKey(workflowId, 'capture'),
        authorizationId: charge.id,
        amount: input.amount,
        currency: input.currency,
      });
      break;
    case 'captured':
      break;
  }

  const saga = new Saga();
  saga.add('refund the card charge', () =>
    gateway.refundCard({
      ...route,
      idempotencyKey: gatewayIdempotencyKey(workflowId, 'refund'),
      authorizationId: charge.id,
      amount: input.amount,
      reason: 'wallet credit failed',
    }),
  );
  try {
    await store.creditWallet({
      transferId: transferId(workflowId, 'credit'),
      tenantId: input.tenantId,
      customerId: input.customerId,
      currency: input.currency,
      amount: input.amount,
      from: 'gateway_clearing',
      description: 'wallet top-up by card',
    });
  } catch (error) {
    log.error('wallet credit failed; refunding the card charge', { error: classifyFailure(error).message });
    const notUndone = await saga.compensate();
    return fail(
      'processing_error',
      notUndone.length === 0
        ? 'the wallet could not be credited; the charge was refunded'
        : 'the wallet could not be credited and the charge could not be refunded: it requires attention',
    );
  }
  await store.publishEvent(
    cloudEvent({
      workflowId,
      seq: 1,
      type: 'wallet.updated',
      subject: `wallets/${input.customerId}`,
      tenantId: input.tenantId,
      time: new Date().toISOString(),
      data: {
        customerId: input.customerId,
        currency: input.currency,
        amount: input.amount,
        reason: 'top_up',
      },
    }),
  );
  return { status: 'succeeded', authorizationId: charge.id };
}
