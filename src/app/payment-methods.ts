import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import type { Executor } from '../db/client.js';
import { findCustomer, updateCustomer } from '../db/customers.js';
import { requireCustomer } from './customers.js';
import {
  deletePaymentMethod,
  findGatewayCustomerId,
  findPaymentMethod,
  findPaymentMethodForWebhook,
  insertPaymentMethod,
  listPaymentMethods,
  savedCardUse,
  setDefaultIfNone,
  updatePaymentMethod,
  type PaymentMethodChanges,
  type PaymentMethodRecord,
} from '../db/payment-methods.js';
import type { PaymentMethod } from '../domain/payment.js';
import { returnUrlRefusal } from '../domain/return-url.js';
import { GatewayRequestError, GatewayUnavailableError } from '../gateway/errors.js';
import type { GatewaySavedMethod, WebhookEvent } from '../gateway/port.js';
import type { ConnectorRegistry } from '../gateway/registry.js';
import { AppError } from './errors.js';
import type { SavePaymentMethodBody } from './schemas.js';

/** How many methods a customer may keep (Stripe has no limit; a card-testing bot should meet one). */
export const MAX_PAYMENT_METHODS = 20;

/** A saved card as the API shows it: the card's public details, never a number or the gateway's secrets. */
export interface PaymentMethodView {
  id: string;
  customerId: string;
  status: 'active' | 'requires_action' | 'failed';
  connector: string;
  brand?: string | undefined;
  last4?: string | undefined;
  expMonth?: number | undefined;
  expYear?: number | undefined;
  isDefault: boolean;
  /** Set while the customer must authenticate the card (3-D Secure on setup). */
  nextAction?: { type: 'redirect_to_url'; url: string } | undefined;
  failureCode?: string | undefined;
  failureMessage?: string | undefined;
  createdAt: string;
}

/** How a payment names a saved card: by id, or the customer's default. */
export interface SavedMethodChoice {
  type: 'saved' | 'split';
  paymentMethodId?: string | undefined;
  offSession?: boolean | undefined;
}

const notFound = (id: string) =>
  new AppError('not_found', 'payment_method_not_found', `no payment method ${id} for this customer`);

/**
 * Cards customers save for later payments. The gateway keeps the card (Stripe's SetupIntent and
 * attached PaymentMethod, the sandbox's stored method); Paysaga keeps its id, the public card
 * details and the status. A card that needs 3-D Secure on setup waits in `requires_action` until
 * the gateway's webhook (or a read while it waits) says how the customer did.
 */
export class PaymentMethodService {
  constructor(
    private readonly db: Executor,
    private readonly connectors: ConnectorRegistry,
    private readonly config: Pick<Config, 'returnUrlAllowHttpLoopback'>,
  ) {}

  async save(tenantId: string, customerId: string, body: SavePaymentMethodBody): Promise<PaymentMethodView> {
    if (body.returnUrl !== undefined) {
      const refusal = returnUrlRefusal(body.returnUrl, {
        allowHttpLoopback: this.config.returnUrlAllowHttpLoopback,
      });
      if (refusal) throw new AppError('invalid', 'return_url_not_allowed', refusal);
    }
    await requireCustomer(this.db, tenantId, customerId);
    const connector = this.connectors.connectorFor(tenantId);
    const gateway = this.connectors.get(connector, tenantId);
    if (!gateway.saveMethod)
      throw new AppError(
        'invalid',
        'payment_methods_not_supported',
        `the ${connector} connector does not save payment methods`,
      );
    const kept = await listPaymentMethods(this.db, tenantId, customerId);
    if (kept.length >= MAX_PAYMENT_METHODS)
      throw new AppError(
        'conflict',
        'too_many_payment_methods',
        `a customer keeps at most ${MAX_PAYMENT_METHODS} payment methods; delete one first`,
      );
    const id = `pm_${randomBytes(12).toString('hex')}`;
    const gatewayCustomerId = await findGatewayCustomerId(this.db, tenantId, customerId, connector);
    const saveMethod = gateway.saveMethod.bind(gateway);
    const saved = await callGateway(() =>
      saveMethod({
        idempotencyKey: `paysaga:${id}:save`,
        token: body.token,
        reference: id,
        tenantId,
        customerId,
        gatewayCustomerId,
        returnUrl: body.returnUrl,
      }),
    );
    // Refused at setup (declined, or a token the gateway never issued): nothing is kept, as
    // Stripe answers a failed SetupIntent confirmation with a card error.
    if (saved.status === 'failed')
      throw new AppError(
        'declined',
        saved.failureCode ?? 'card_declined',
        saved.failureMessage ?? 'the card could not be saved',
      );
    // One transaction: a reader that sees the method active sees whether it is the default too.
    return this.db.transaction(async (tx) => {
      const record = await insertPaymentMethod(tx, tenantId, {
        id,
        customerId,
        connector,
        gatewayMethodId: saved.id,
        gatewaySetupId: saved.setupId,
        ...changesFrom(saved),
        status: saved.status,
      });
      return view(record, await makeDefault(tx, tenantId, record, body.setAsDefault ?? false));
    });
  }

  /** A method waiting for the customer is read from the gateway again, in case its webhook is late. */
  async get(tenantId: string, customerId: string, id: string): Promise<PaymentMethodView> {
    let record = await this.find(tenantId, customerId, id);
    if (record.status === 'requires_action') {
      const gateway = this.connectors.find(record.connector, tenantId);
      const current = await gateway
        ?.savedMethod?.({ id: record.gatewayMethodId, setupId: record.gatewaySetupId })
        .catch(() => undefined);
      if (current && current.status !== 'requires_action')
        record = await this.apply(tenantId, record, current);
    }
    return view(record, await this.isDefault(tenantId, record));
  }

  async list(tenantId: string, customerId: string): Promise<{ data: PaymentMethodView[] }> {
    const customer = await requireCustomer(this.db, tenantId, customerId);
    const rows = await listPaymentMethods(this.db, tenantId, customerId);
    return { data: rows.map((row) => view(row, row.id === customer.defaultPaymentMethodId)) };
  }

  /**
   * Detaches the card at the gateway, then forgets it. A payment already charging it keeps the
   * gateway's id it started with: the gateway answers it (a charge of a detached card declines).
   */
  async delete(tenantId: string, customerId: string, id: string): Promise<{ id: string; deleted: true }> {
    const record = await this.find(tenantId, customerId, id);
    const gateway = this.connectors.find(record.connector, tenantId);
    const deleteMethod = gateway?.deleteMethod?.bind(gateway);
    if (deleteMethod && record.status !== 'failed')
      await callGateway(() =>
        deleteMethod({ idempotencyKey: `paysaga:${id}:delete`, id: record.gatewayMethodId }),
      );
    await deletePaymentMethod(this.db, tenantId, id);
    return { id, deleted: true };
  }

  /** For a customer's default: the method must be the customer's and usable. */
  async assertUsable(tenantId: string, customerId: string, id: string): Promise<void> {
    const record = await this.named(tenantId, customerId, id);
    if (record.status !== 'active')
      throw new AppError('invalid', 'payment_method_not_usable', `payment method ${id} is ${record.status}`);
  }

  /**
   * The card a payment names (or the customer's default) as the workflow charges it: the
   * gateway's id and what the charge cites. Refused (422) when it is not the customer's, not
   * active, or saved on another connector than the tenant's.
   */
  async resolve(tenantId: string, customerId: string, choice: SavedMethodChoice): Promise<PaymentMethod> {
    let id = choice.paymentMethodId;
    if (id === undefined) {
      const customer = await findCustomer(this.db, tenantId, customerId);
      id = customer?.defaultPaymentMethodId;
      if (id === undefined)
        throw new AppError(
          'invalid',
          'no_default_payment_method',
          `customer ${customerId} has no default payment method; name one with paymentMethodId`,
        );
    }
    const record = await this.named(tenantId, customerId, id);
    if (record.status === 'requires_action')
      throw new AppError(
        'invalid',
        'payment_method_not_ready',
        `payment method ${id} waits for the customer to authenticate it`,
      );
    const connector = this.connectors.connectorFor(tenantId);
    if (record.status !== 'active' || !record.card || record.connector !== connector)
      throw new AppError(
        'invalid',
        'payment_method_not_usable',
        record.connector !== connector
          ? `payment method ${id} was saved on ${record.connector}, not this tenant's ${connector}`
          : `payment method ${id} is ${record.status}`,
      );
    return {
      type: choice.type === 'saved' ? 'card' : 'split',
      token: record.gatewayMethodId,
      saved: savedCardUse(record, record.card, choice.offSession ?? false),
    };
  }

  /**
   * A gateway's webhook about a method: moves a setup on (only a method of a tenant whose account
   * signed it, on the connector that sent it). A deleted method stays deleted.
   */
  async gatewayUpdated(
    connector: string,
    serves: (tenantId: string) => boolean,
    event: Extract<WebhookEvent, { type: 'payment_method.updated' }>,
  ): Promise<void> {
    const found = await findPaymentMethodForWebhook(this.db, event.reference);
    if (!found || found.connector !== connector || !serves(found.tenantId)) return;
    if (found.status !== 'requires_action' || event.method.status === 'requires_action') return;
    await this.apply(found.tenantId, found, event.method);
  }

  private async apply(
    tenantId: string,
    record: PaymentMethodRecord,
    current: GatewaySavedMethod,
  ): Promise<PaymentMethodRecord> {
    // One transaction: a reader that sees the method active sees it as the default too.
    const updated = await this.db.transaction(async (tx) => {
      const changed = await updatePaymentMethod(tx, tenantId, record.id, {
        ...changesFrom(current),
        status: current.status,
        actionUrl: undefined,
      });
      if (changed) await makeDefault(tx, tenantId, changed, false);
      return changed;
    });
    return updated ?? record;
  }

  private async isDefault(tenantId: string, record: PaymentMethodRecord): Promise<boolean> {
    const customer = await findCustomer(this.db, tenantId, record.customerId);
    return customer?.defaultPaymentMethodId === record.id;
  }

  /** The customer's method (not deleted), or undefined: another customer's is not this one's. */
  private async owned(tenantId: string, customerId: string, id: string) {
    const record = await findPaymentMethod(this.db, tenantId, id);
    return record && record.customerId === customerId && record.status !== 'deleted' ? record : undefined;
  }

  /** A method the caller addressed by its route: 404 when it is not the customer's. */
  private async find(tenantId: string, customerId: string, id: string): Promise<PaymentMethodRecord> {
    const record = await this.owned(tenantId, customerId, id);
    if (!record) throw notFound(id);
    return record;
  }

  /** A method a request's body names: 422 when it is not the customer's. */
  private async named(tenantId: string, customerId: string, id: string): Promise<PaymentMethodRecord> {
    const record = await this.owned(tenantId, customerId, id);
    if (!record)
      throw new AppError(
        'invalid',
        'payment_method_not_found',
        `no payment method ${id} for customer ${customerId}`,
      );
    return record;
  }
}

/** Asked for, or the customer's first active method: it becomes the default. */
async function makeDefault(
  db: Executor,
  tenantId: string,
  record: PaymentMethodRecord,
  asked: boolean,
): Promise<boolean> {
  if (record.status !== 'active') return false;
  if (!asked) return setDefaultIfNone(db, tenantId, record.customerId, record.id);
  await updateCustomer(db, tenantId, record.customerId, { defaultPaymentMethodId: record.id });
  return true;
}

function changesFrom(saved: GatewaySavedMethod): PaymentMethodChanges {
  return {
    card: saved.card,
    gatewayCustomerId: saved.gatewayCustomerId,
    networkTransactionId: saved.networkTransactionId,
    actionUrl: saved.status === 'requires_action' ? saved.actionUrl : undefined,
    failureCode: saved.failureCode,
    failureMessage: saved.failureMessage,
  };
}

function view(record: PaymentMethodRecord, isDefault: boolean): PaymentMethodView {
  return {
    id: record.id,
    customerId: record.customerId,
    status: record.status === 'deleted' ? 'failed' : record.status,
    connector: record.connector,
    brand: record.card?.brand,
    last4: record.card?.last4,
    expMonth: record.card?.expMonth,
    expYear: record.card?.expYear,
    isDefault,
    ...(record.status === 'requires_action' && record.actionUrl
      ? { nextAction: { type: 'redirect_to_url' as const, url: record.actionUrl } }
      : {}),
    failureCode: record.failureCode,
    failureMessage: record.failureMessage,
    createdAt: record.createdAt,
  };
}

/** The gateway down is a 503 the caller retries; a request it refused is the caller's (400). */
async function callGateway<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof GatewayUnavailableError)
      throw new AppError('unavailable', 'gateway_unavailable', 'the payment gateway did not answer; retry', {
        retryAfterSeconds: 2,
      });
    if (error instanceof GatewayRequestError)
      throw new AppError(
        'invalid',
        'gateway_refused',
        `the payment gateway refused the request: ${error.message}`,
      );
    throw error;
  }
}
