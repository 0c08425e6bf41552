import type { Executor } from '../db/client.js';
import type { WorkerMetrics } from '../metrics.js';
import {
  reserveRefund,
  setGatewayRefundId,
  settleRefund,
  type ReserveRefundInput,
  type ReserveRefundResult,
  type SettleRefundInput,
} from '../db/refunds.js';

export function createRefundActivities(db: Executor, metrics?: WorkerMetrics) {
  return {
    reserveRefund: (input: ReserveRefundInput): Promise<ReserveRefundResult> => reserveRefund(db, input),
    settleRefund: async (input: SettleRefundInput): Promise<void> => {
      await settleRefund(db, input);
      metrics?.refunds.inc({ status: input.status });
    },
    markRefundPending: (input: { refundId: string; gatewayRefundId: string }): Promise<void> =>
      setGatewayRefundId(db, input.refundId, input.gatewayRefundId),
  };
}
