import type { Executor } from '../db/client.js';
import {
  reserveRefund,
  setGatewayRefundId,
  settleRefund,
  type ReserveRefundInput,
  type ReserveRefundResult,
  type SettleRefundInput,
} from '../db/refunds.js';

export function createRefundActivities(db: Executor) {
  return {
    reserveRefund: (input: ReserveRefundInput): Promise<ReserveRefundResult> => reserveRefund(db, input),
    settleRefund: (input: SettleRefundInput): Promise<void> => settleRefund(db, input),
    markRefundPending: (input: { refundId: string; gatewayRefundId: string }): Promise<void> =>
      setGatewayRefundId(db, input.refundId, input.gatewayRefundId),
  };
}
