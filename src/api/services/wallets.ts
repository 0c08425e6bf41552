import type { Executor } from '../../db/client.js';
import { createLedgerActivities } from '../../activities/ledger.js';
import { topUpWorkflowId, transferId } from '../../domain/ids.js';
import type { Currency } from '../../domain/money.js';

export interface TopUpRequest {
  amount: number;
  currency: Currency;
  token: string;
}

export class WalletService {
  private readonly ledger;

  constructor(db: Executor) {
    this.ledger = createLedgerActivities(db);
  }

  /** Credits the wallet from gateway clearing; the transfer id makes a repeated key a no-op. */
  async topUp(tenantId: string, customerId: string, key: string, request: TopUpRequest): Promise<void> {
    await this.ledger.creditWallet({
      transferId: transferId(topUpWorkflowId(tenantId, customerId, key), 'credit'),
      tenantId,
      customerId,
      currency: request.currency,
      amount: request.amount,
      from: 'gateway_clearing',
      description: 'wallet top-up',
    });
  }
}
