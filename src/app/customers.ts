import type { Executor } from '../db/client.js';
import {
  findCustomer,
  insertCustomer,
  listCustomers,
  updateCustomer,
  type CustomerRecord,
} from '../db/customers.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { AppError } from './errors.js';
import type { CreateCustomerBody, UpdateCustomerBody } from './schemas.js';

export type Customer = CustomerRecord;

/** The ids a customer may have (schemas.ts `externalId`): what a list's cursor may carry. */
const CUSTOMER_ID = /^[A-Za-z0-9._-]{1,200}$/;

// The message names the id, which the merchant chose and is no personal data; never the email.
const notFound = (id: string) => new AppError('not_found', 'customer_not_found', `no customer ${id}`);

/** The tenant's customer, or a 404 `customer_not_found`: what every route under a customer starts with. */
export async function requireCustomer(db: Executor, tenantId: string, id: string): Promise<Customer> {
  const customer = await findCustomer(db, tenantId, id);
  if (!customer) throw notFound(id);
  return customer;
}

/**
 * The tenant's customers, by the merchant's own ids. Their email and name are personal data:
 * no message here carries them, and no event is written for a customer.
 */
export class CustomerService {
  constructor(
    private readonly db: Executor,
    /** A customer's default must be one of its active saved cards. */
    private readonly paymentMethods?: {
      assertUsable(tenantId: string, customerId: string, id: string): Promise<void>;
    },
  ) {}

  async create(tenantId: string, body: CreateCustomerBody): Promise<Customer> {
    const created = await insertCustomer(this.db, tenantId, { ...body, metadata: body.metadata ?? {} });
    if (!created) throw new AppError('conflict', 'customer_exists', `customer ${body.id} exists already`);
    return created;
  }

  async get(tenantId: string, id: string): Promise<Customer> {
    return requireCustomer(this.db, tenantId, id);
  }

  /** Only the fields given change; with none, the customer is answered as it is. */
  async update(tenantId: string, id: string, changes: UpdateCustomerBody): Promise<Customer> {
    const given = Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined)) as {
      email?: string | null;
      name?: string | null;
      metadata?: Record<string, string>;
      defaultPaymentMethodId?: string | null;
    };
    if (typeof given.defaultPaymentMethodId === 'string') {
      await requireCustomer(this.db, tenantId, id);
      await this.paymentMethods?.assertUsable(tenantId, id, given.defaultPaymentMethodId);
    }
    const customer =
      Object.keys(given).length === 0
        ? await findCustomer(this.db, tenantId, id)
        : await updateCustomer(this.db, tenantId, id, given);
    if (!customer) throw notFound(id);
    return customer;
  }

  /** Newest first, a page at a time; the cursor is opaque to callers. */
  async list(
    tenantId: string,
    query: { limit: number; cursor?: string | undefined },
  ): Promise<{ data: Customer[]; nextCursor: string | null }> {
    const rows = await listCustomers(this.db, tenantId, {
      limit: query.limit,
      after: decodeCursor(query.cursor, CUSTOMER_ID),
    });
    const last = rows.length === query.limit ? rows[rows.length - 1] : undefined;
    return { data: rows, nextCursor: last ? encodeCursor(last.createdAt, last.id) : null };
  }
}
