import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import type { Executor } from '../db/client.js';
import {
  deactivatePaymentLink,
  findPaymentLink,
  findPaymentLinkById,
  insertPaymentLink,
  listPaymentLinks,
  takePaymentLinkSlot,
} from '../db/payment-links.js';
import type { CheckoutSessionView } from '../domain/checkout.js';
import { PAYMENT_LINK_ID, type PaymentLinkView } from '../domain/payment-link.js';
import { returnUrlRefusal } from '../domain/return-url.js';
import type { CheckoutSessionService } from './checkout-sessions.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { AppError } from './errors.js';

export type CreatePaymentLink = Pick<
  PaymentLinkView,
  'amount' | 'currency' | 'description' | 'successUrl' | 'cancelUrl' | 'allowedMethods' | 'expiresInSeconds'
>;

/** What a visit of a link comes to. */
export type LinkVisit =
  | { outcome: 'session'; link: PaymentLinkView; session: CheckoutSessionView }
  /** Deactivated: no session. */
  | { outcome: 'inactive'; link: PaymentLinkView }
  /** The link opened its sessions of this minute already: no session. */
  | { outcome: 'limited'; link: PaymentLinkView; retryAfterSeconds: number }
  | { outcome: 'not_found' };

const notFound = (id: string) => new AppError('not_found', 'payment_link_not_found', `no payment link ${id}`);

/**
 * Payment links: the merchant's API (create, read, list, deactivate) and the visit that opens a
 * new checkout session for each visitor, through the checkout sessions' own use case.
 */
export class PaymentLinkService {
  constructor(
    private readonly db: Executor,
    private readonly checkoutSessions: Pick<CheckoutSessionService, 'create'>,
    private readonly config: Pick<Config, 'returnUrlAllowHttpLoopback' | 'paymentLinkSessionsPerMinute'>,
  ) {}

  async create(tenantId: string, body: CreatePaymentLink): Promise<PaymentLinkView> {
    // Every session the link opens sends its customer to both: checked once, here, as a
    // checkout session's are.
    const policy = { allowHttpLoopback: this.config.returnUrlAllowHttpLoopback };
    const refusals = [
      returnUrlRefusal(body.successUrl, policy, 'successUrl'),
      returnUrlRefusal(body.cancelUrl, policy, 'cancelUrl'),
    ].filter((refusal) => refusal !== undefined);
    if (refusals.length > 0) throw new AppError('invalid', 'return_url_not_allowed', refusals.join('; '));
    const now = new Date().toISOString();
    const view: PaymentLinkView = {
      ...body,
      id: `plink_${randomBytes(16).toString('hex')}`,
      tenantId,
      active: true,
      createdAt: now,
      updatedAt: now,
    };
    await insertPaymentLink(this.db, view);
    return view;
  }

  async get(tenantId: string, id: string): Promise<PaymentLinkView> {
    const link = PAYMENT_LINK_ID.test(id) ? await findPaymentLink(this.db, tenantId, id) : undefined;
    if (!link) throw notFound(id);
    return link;
  }

  /** Newest first, a page at a time; the cursor is opaque to callers. */
  async list(
    tenantId: string,
    query: { active?: boolean | undefined; limit: number; cursor?: string | undefined },
  ): Promise<{ data: PaymentLinkView[]; nextCursor: string | null }> {
    const rows = await listPaymentLinks(this.db, tenantId, {
      ...query,
      after: decodeCursor(query.cursor, PAYMENT_LINK_ID),
    });
    const last = rows.length === query.limit ? rows[rows.length - 1] : undefined;
    return { data: rows, nextCursor: last ? encodeCursor(last.createdAt, last.id) : null };
  }

  /**
   * Active → inactive: visits open no more sessions. Sessions already open stay payable until
   * they expire (the visitor is on the page). Deactivating an inactive link changes nothing.
   */
  async deactivate(tenantId: string, id: string): Promise<PaymentLinkView> {
    const link = PAYMENT_LINK_ID.test(id) ? await deactivatePaymentLink(this.db, tenantId, id) : undefined;
    if (!link) throw notFound(id);
    return link;
  }

  /** Whether a link would open a session, without opening one (a HEAD request). */
  async peek(id: string): Promise<'active' | 'inactive' | 'not_found'> {
    const link = PAYMENT_LINK_ID.test(id) ? await findPaymentLinkById(this.db, id) : undefined;
    if (!link) return 'not_found';
    return link.active ? 'active' : 'inactive';
  }

  /**
   * A visitor opened the link: a new session for a new order (`{linkId}_{random}`) of a new
   * guest customer, at most `paymentLinkSessionsPerMinute` a minute per link, since anyone
   * (or any bot) can open it and each session is a workflow.
   */
  async visit(id: string): Promise<LinkVisit> {
    const link = PAYMENT_LINK_ID.test(id) ? await findPaymentLinkById(this.db, id) : undefined;
    if (!link) return { outcome: 'not_found' };
    if (!link.active) return { outcome: 'inactive', link };
    const slot = await takePaymentLinkSlot(this.db, link.id, this.config.paymentLinkSessionsPerMinute);
    if (!slot.taken) {
      // Deactivated since it was read, or its minute is used up.
      if (slot.reason !== 'limited') return { outcome: 'inactive', link: { ...link, active: false } };
      return { outcome: 'limited', link, retryAfterSeconds: slot.retryAfterSeconds };
    }
    const session = await this.checkoutSessions.create(link.tenantId, {
      orderId: `${link.id}_${randomBytes(8).toString('hex')}`,
      customerId: `guest_${randomBytes(8).toString('hex')}`,
      amount: link.amount,
      currency: link.currency,
      description: link.description,
      successUrl: link.successUrl,
      cancelUrl: link.cancelUrl,
      allowedMethods: link.allowedMethods,
      expiresInSeconds: link.expiresInSeconds,
      paymentLinkId: link.id,
    });
    return { outcome: 'session', link, session };
  }
}
