import { sql } from './orm.js';
import {
  bigint,
  boolean,
  check,
  customType,
  date,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from './orm.js';

const money = (name: string) => bigint(name, { mode: 'number' });
/** A 64-bit transaction id (PostgreSQL's xid8), read as its decimal text. */
const xid8 = customType<{ data: string }>({ dataType: () => 'xid8' });
const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

/**
 * Ledger accounts carry running balances so a transfer is one conditional UPDATE per account.
 * Wallets have `no_overdraft`: the CHECK below makes "wallet below zero" impossible inside the
 * same transaction that moves the money, whatever the application code does.
 */
export const ledgerAccounts = pgTable(
  'ledger_accounts',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    kind: text('kind', { enum: ['wallet', 'system'] }).notNull(),
    customerId: text('customer_id'),
    code: text('code').notNull(),
    currency: text('currency').notNull(),
    noOverdraft: integer('no_overdraft').notNull().default(0),
    debitsPosted: money('debits_posted').notNull().default(0),
    creditsPosted: money('credits_posted').notNull().default(0),
    debitsPending: money('debits_pending').notNull().default(0),
    creditsPending: money('credits_pending').notNull().default(0),
    createdAt: createdAt(),
  },
  (t) => [
    check(
      'ledger_accounts_no_overdraft',
      sql`${t.noOverdraft} = 0 OR ${t.debitsPosted} + ${t.debitsPending} <= ${t.creditsPosted}`,
    ),
    check(
      'ledger_accounts_non_negative',
      sql`${t.debitsPosted} >= 0 AND ${t.creditsPosted} >= 0 AND ${t.debitsPending} >= 0 AND ${t.creditsPending} >= 0`,
    ),
    index('ledger_accounts_customer').on(t.tenantId, t.customerId),
  ],
);

/**
 * Transfers are immutable facts with caller-chosen ids. `kind` follows TigerBeetle's two-phase
 * model: `single` posts at once, `pending` reserves, `post` / `void` settle a pending transfer.
 */
export const ledgerTransfers = pgTable(
  'ledger_transfers',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    kind: text('kind', { enum: ['single', 'pending', 'post', 'void'] }).notNull(),
    debitAccountId: text('debit_account_id')
      .notNull()
      .references(() => ledgerAccounts.id),
    creditAccountId: text('credit_account_id')
      .notNull()
      .references(() => ledgerAccounts.id),
    amount: money('amount').notNull(),
    currency: text('currency').notNull(),
    pendingId: text('pending_id'),
    /** For `pending`: open until posted, voided or expired. */
    state: text('state', { enum: ['posted', 'pending', 'settled'] }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    description: text('description'),
    createdAt: createdAt(),
    seq: bigint('seq', { mode: 'number' }).generatedAlwaysAsIdentity(),
  },
  (t) => [
    check('ledger_transfers_amount', sql`${t.amount} >= 0`),
    check('ledger_transfers_accounts', sql`${t.debitAccountId} <> ${t.creditAccountId}`),
    index('ledger_transfers_debit').on(t.debitAccountId, t.seq),
    index('ledger_transfers_credit').on(t.creditAccountId, t.seq),
    uniqueIndex('ledger_transfers_settles_once').on(t.pendingId),
  ],
);

export const payments = pgTable(
  'payments',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    orderId: text('order_id').notNull(),
    customerId: text('customer_id').notNull(),
    workflowId: text('workflow_id').notNull(),
    amount: money('amount').notNull(),
    currency: text('currency').notNull(),
    status: text('status').notNull(),
    methodType: text('method_type').notNull(),
    captureMethod: text('capture_method').notNull(),
    card: jsonb('card'),
    amountCaptured: money('amount_captured').notNull().default(0),
    amountRefunded: money('amount_refunded').notNull().default(0),
    amountFromWallet: money('amount_from_wallet').notNull().default(0),
    amountFromCard: money('amount_from_card').notNull().default(0),
    /** Refund amounts claimed by refund workflows (running or done), per funding source. */
    refundReservedWallet: money('refund_reserved_wallet').notNull().default(0),
    refundReservedCard: money('refund_reserved_card').notNull().default(0),
    failureCode: text('failure_code'),
    failureMessage: text('failure_message'),
    nextAction: jsonb('next_action'),
    description: text('description'),
    metadata: jsonb('metadata'),
    /** The merchant's page the customer returns to after 3-D Secure. */
    returnUrl: text('return_url'),
    /** PaymentAttempt[]: every try at paying the order, oldest first. */
    attempts: jsonb('attempts').notNull().default([]),
    reference: text('reference').notNull(),
    requestHash: text('request_hash').notNull(),
    gatewayAuthorizationId: text('gateway_authorization_id'),
    /** The connector that authorized the card part; its capture, void and refunds go back to it. */
    connector: text('connector').notNull().default('sandbox'),
    /** The customer's country the caller gave, which routing rules match on (migrations/0022). */
    country: text('country'),
    /** Written by the workflow in order; a stale write (lower version) never overwrites a newer one. */
    version: integer('version').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
    /** When the payment first reached a settled status (GET /v1/reports/summary's time to settled). */
    settledAt: timestamp('settled_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('payments_tenant_order').on(t.tenantId, t.orderId),
    index('payments_tenant_customer').on(t.tenantId, t.customerId, t.createdAt),
    index('payments_tenant_created').on(t.tenantId, t.createdAt),
    check(
      'payments_amounts',
      sql`${t.amountRefunded} <= ${t.amountCaptured} AND ${t.amountCaptured} <= ${t.amount}`,
    ),
  ],
);

/** Stored responses for `Idempotency-Key`, scoped to tenant and route, with a hash of the request. */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    tenantId: text('tenant_id').notNull(),
    route: text('route').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    state: text('state', { enum: ['in_flight', 'done'] }).notNull(),
    responseStatus: integer('response_status'),
    responseBody: jsonb('response_body'),
    lockedUntil: timestamp('locked_until', { withTimezone: true }).notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.route, t.key] }),
    index('idempotency_keys_expiry').on(t.expiresAt),
  ],
);

/** The outbox: CloudEvents envelopes with deterministic ids; consumers dedupe by id. */
export const events = pgTable(
  'events',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    type: text('type').notNull(),
    source: text('source').notNull(),
    subject: text('subject').notNull(),
    time: timestamp('time', { withTimezone: true }).notNull(),
    data: jsonb('data').notNull(),
    seq: bigint('seq', { mode: 'number' }).generatedAlwaysAsIdentity(),
    /** The transaction that wrote the event: the relay's order is (txid, seq) (migrations/0009). */
    txid: xid8('txid')
      .notNull()
      .default(sql`pg_current_xact_id()`),
  },
  (t) => [
    index('events_subject').on(t.tenantId, t.subject, t.seq),
    index('events_relay_order').on(t.txid, t.seq),
  ],
);

/** How far each sink (webhooks, kafka, amqp) has relayed the outbox, in (txid, seq) order. */
export const eventRelayCursors = pgTable('event_relay_cursors', {
  sink: text('sink').primaryKey(),
  txid: xid8('txid').notNull(),
  seq: bigint('seq', { mode: 'number' }).notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export const refunds = pgTable(
  'refunds',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    paymentId: text('payment_id')
      .notNull()
      .references(() => payments.id),
    workflowId: text('workflow_id').notNull(),
    amount: money('amount').notNull(),
    amountToWallet: money('amount_to_wallet').notNull().default(0),
    amountToCard: money('amount_to_card').notNull().default(0),
    currency: text('currency').notNull(),
    reason: text('reason'),
    status: text('status', { enum: ['pending', 'requires_attention', 'succeeded', 'failed'] }).notNull(),
    failureCode: text('failure_code'),
    failureMessage: text('failure_message'),
    gatewayRefundId: text('gateway_refund_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    index('refunds_payment').on(t.paymentId, t.createdAt),
    index('refunds_tenant_created').on(t.tenantId, t.createdAt),
    index('refunds_gateway').on(t.gatewayRefundId),
    check(
      'refunds_amount',
      sql`${t.amount} > 0 AND ${t.amountToWallet} + ${t.amountToCard} IN (0, ${t.amount})`,
    ),
  ],
);

/**
 * A merchant's webhook endpoint. The signing secret is kept encrypted (AES-256-GCM under
 * `WEBHOOK_ENCRYPTION_KEY`): signing needs the secret itself, so a hash would not do. During a
 * rotation the previous secret signs too, until `previous_secret_expires_at`.
 */
export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    url: text('url').notNull(),
    /** Event types delivered; null: every type. */
    events: text('events').array(),
    description: text('description'),
    secretCiphertext: text('secret_ciphertext').notNull(),
    previousSecretCiphertext: text('previous_secret_ciphertext'),
    previousSecretExpiresAt: timestamp('previous_secret_expires_at', { withTimezone: true }),
    status: text('status', { enum: ['enabled', 'disabled', 'deleted'] }).notNull(),
    disabledReason: text('disabled_reason'),
    /** Its workflow has been woken for deliveries and has not yet found none left (migrations/0009). */
    awake: boolean('awake').notNull().default(false),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('webhook_endpoints_tenant').on(t.tenantId, t.createdAt)],
);

/** One event for one endpoint; delivered in `seq` order (the outbox's order) per endpoint. */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: text('id').primaryKey(),
    endpointId: text('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id),
    tenantId: text('tenant_id').notNull(),
    eventId: text('event_id').notNull(),
    eventType: text('event_type').notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'failed'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
    createdAt: createdAt(),
    seq: bigint('seq', { mode: 'number' }).generatedAlwaysAsIdentity(),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_event').on(t.endpointId, t.eventId),
    index('webhook_deliveries_pending')
      .on(t.endpointId, t.seq)
      .where(sql`${t.status} = 'pending'`),
    // The deliveries list: newest or oldest first, a page at a time.
    index('webhook_deliveries_endpoint').on(t.endpointId, t.seq),
  ],
);

/** Every HTTP attempt of a delivery: what the endpoint answered and how long it took. */
export const webhookAttempts = pgTable(
  'webhook_attempts',
  {
    id: bigint('id', { mode: 'number' }).generatedAlwaysAsIdentity().primaryKey(),
    deliveryId: text('delivery_id')
      .notNull()
      .references(() => webhookDeliveries.id),
    attempt: integer('attempt').notNull(),
    /** `workflow` (the scheduled retries) or `manual` (POST .../retry). */
    trigger: text('trigger', { enum: ['workflow', 'manual'] }).notNull(),
    statusCode: integer('status_code'),
    error: text('error'),
    latencyMs: integer('latency_ms').notNull(),
    nextRetryAt: timestamp('next_retry_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [index('webhook_attempts_delivery').on(t.deliveryId, t.id)],
);

/**
 * Gateway webhook events already acted on, by the gateway's event id: a redelivery (Stripe
 * retries for days, and may send an event twice) is answered 200 and moves nothing.
 */
export const gatewayWebhookEvents = pgTable(
  'gateway_webhook_events',
  {
    connector: text('connector').notNull(),
    eventId: text('event_id').notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.connector, t.eventId] })],
);

/**
 * How far the Kafka command consumer has settled each partition (the next offset to read), kept
 * beside Kafka's own committed offsets: Kafka forgets a group's offsets after
 * `offsets.retention.minutes` without a member, and this is what the consumer resumes from then
 * instead of reading the topic again from its start.
 */
export const commandOffsets = pgTable(
  'command_offsets',
  {
    consumerGroup: text('consumer_group').notNull(),
    topic: text('topic').notNull(),
    partition: integer('partition').notNull(),
    nextOffset: bigint('next_offset', { mode: 'number' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.consumerGroup, t.topic, t.partition] })],
);

/**
 * Hosted checkout sessions (migrations/0016). The id is the capability in the page's URL. At most
 * one session per order is open or complete; expired ones may be many.
 */
export const checkoutSessions = pgTable(
  'checkout_sessions',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    orderId: text('order_id').notNull(),
    customerId: text('customer_id').notNull(),
    amount: money('amount').notNull(),
    currency: text('currency').notNull(),
    description: text('description'),
    successUrl: text('success_url').notNull(),
    cancelUrl: text('cancel_url').notNull(),
    allowedMethods: text('allowed_methods').array().notNull(),
    status: text('status', { enum: ['open', 'complete', 'expired'] }).notNull(),
    paymentId: text('payment_id'),
    /** The payment link whose visit opened the session (migrations/0017), if any. */
    paymentLinkId: text('payment_link_id'),
    /** Set when the session is on the connector's own hosted page (migrations/0018). */
    connector: text('connector'),
    gatewaySessionId: text('gateway_session_id'),
    gatewayUrl: text('gateway_url'),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    completedAt: timestamp('completed_at', { withTimezone: true }),
    expiredAt: timestamp('expired_at', { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('checkout_sessions_tenant_order_live')
      .on(t.tenantId, t.orderId)
      .where(sql`${t.status} <> 'expired'`),
  ],
);

/**
 * Payment links (migrations/0017): a reusable URL for a fixed amount; each visit opens a new
 * checkout session. `window_started_at` / `window_sessions` count the sessions opened in the
 * current minute, so one conditional UPDATE both checks and takes the per-link limit.
 */
export const paymentLinks = pgTable(
  'payment_links',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    amount: money('amount').notNull(),
    currency: text('currency').notNull(),
    description: text('description'),
    successUrl: text('success_url').notNull(),
    cancelUrl: text('cancel_url').notNull(),
    allowedMethods: text('allowed_methods').array().notNull(),
    sessionExpiresInSeconds: integer('session_expires_in_seconds').notNull(),
    active: boolean('active').notNull().default(true),
    windowStartedAt: timestamp('window_started_at', { withTimezone: true }).notNull().defaultNow(),
    windowSessions: integer('window_sessions').notNull().default(0),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('payment_links_tenant_created').on(t.tenantId, t.createdAt, t.id)],
);

/** The messages a profile's inbound binding acted on, by the message's own idempotency key. */
export const profileMessages = pgTable(
  'profile_messages',
  {
    tenantId: text('tenant_id').notNull(),
    profile: text('profile').notNull(),
    binding: text('binding').notNull(),
    idempotencyKey: text('idempotency_key').notNull(),
    resourceId: text('resource_id').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({
      name: 'profile_messages_pk',
      columns: [t.tenantId, t.profile, t.binding, t.idempotencyKey],
    }),
  ],
);

/** A stable number per payment, for contracts whose payment ids are numbers. */
export const paymentNumbers = pgTable('payment_numbers', {
  paymentId: text('payment_id').primaryKey(),
  number: bigint('number', { mode: 'number' }).generatedAlwaysAsIdentity().notNull().unique(),
});

/** Events an outbound binding could not map or publish, each retried on its own. */
export const profileFailures = pgTable(
  'profile_failures',
  {
    sink: text('sink').notNull(),
    eventId: text('event_id').notNull(),
    binding: text('binding').notNull(),
    reason: text('reason').notNull(),
    attempts: integer('attempts').notNull().default(1),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ name: 'profile_failures_pk', columns: [t.sink, t.eventId, t.binding] })],
);

/**
 * The merchant's customers, by the id the merchant already uses (a payment's `customerId`).
 * Email and name are personal data: they stay in this table and are never logged.
 */
export const customers = pgTable(
  'customers',
  {
    tenantId: text('tenant_id').notNull(),
    id: text('id').notNull(),
    email: text('email'),
    name: text('name'),
    metadata: jsonb('metadata').$type<Record<string, string>>().notNull().default({}),
    defaultPaymentMethodId: text('default_payment_method_id'),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'customers_pk', columns: [t.tenantId, t.id] }),
    index('customers_tenant_created').on(t.tenantId, t.createdAt, t.id),
  ],
);

/** Cards customers saved at a gateway: the gateway's id and the card's public details, never a number. */
export const paymentMethods = pgTable(
  'payment_methods',
  {
    tenantId: text('tenant_id').notNull(),
    id: text('id').notNull(),
    customerId: text('customer_id').notNull(),
    connector: text('connector').notNull(),
    status: text('status').$type<'active' | 'requires_action' | 'failed' | 'deleted'>().notNull(),
    gatewayMethodId: text('gateway_method_id').notNull(),
    gatewaySetupId: text('gateway_setup_id'),
    gatewayCustomerId: text('gateway_customer_id'),
    networkTransactionId: text('network_transaction_id'),
    brand: text('brand'),
    last4: text('last4'),
    expMonth: integer('exp_month'),
    expYear: integer('exp_year'),
    actionUrl: text('action_url'),
    failureCode: text('failure_code'),
    failureMessage: text('failure_message'),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'payment_methods_pk', columns: [t.tenantId, t.id] }),
    index('payment_methods_customer').on(t.tenantId, t.customerId, t.createdAt),
    uniqueIndex('payment_methods_id').on(t.id),
    check('payment_methods_status', sql`${t.status} IN ('active', 'requires_action', 'failed', 'deleted')`),
  ],
);

/** A wallet that tops itself up from a saved card when a payment would leave it short. */
export const walletAutoTopUps = pgTable(
  'wallet_auto_top_ups',
  {
    tenantId: text('tenant_id').notNull(),
    customerId: text('customer_id').notNull(),
    currency: text('currency').notNull(),
    threshold: money('threshold').notNull(),
    amount: money('amount').notNull(),
    dailyLimit: money('daily_limit').notNull(),
    paymentMethodId: text('payment_method_id').notNull(),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'wallet_auto_top_ups_pk', columns: [t.tenantId, t.customerId] })],
);

/** Each automatic top-up, at most one per payment: the day's sum is held against the daily limit. */
export const walletAutoTopUpRuns = pgTable(
  'wallet_auto_top_up_runs',
  {
    tenantId: text('tenant_id').notNull(),
    paymentId: text('payment_id').notNull(),
    customerId: text('customer_id').notNull(),
    currency: text('currency').notNull(),
    amount: money('amount').notNull(),
    day: date('day', { mode: 'string' }).notNull(),
    status: text('status').$type<'reserved' | 'succeeded' | 'failed' | 'reversed'>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ name: 'wallet_auto_top_up_runs_pk', columns: [t.tenantId, t.paymentId] }),
    index('wallet_auto_top_up_runs_day').on(t.tenantId, t.customerId, t.day),
  ],
);

/** Tenants managed by the admin API (the environment's are a bootstrap beside them). */
export const tenants = pgTable(
  'tenants',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    status: text('status').$type<'active' | 'suspended'>().notNull(),
    settings: jsonb('settings').notNull(),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [check('tenants_status', sql`${t.status} IN ('active', 'suspended')`)],
);

/** API keys: the secret's SHA-256 and first characters, never the secret. */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    scope: text('scope').$type<'full' | 'read_only' | 'publishable'>().notNull(),
    mode: text('mode').$type<'live' | 'test'>().notNull(),
    prefix: text('prefix').notNull(),
    secretHash: text('secret_hash').notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    rolledFrom: text('rolled_from'),
  },
  (t) => [
    uniqueIndex('api_keys_secret_hash').on(t.secretHash),
    index('api_keys_tenant').on(t.tenantId, t.createdAt),
    check('api_keys_scope', sql`${t.scope} IN ('full', 'read_only', 'publishable')`),
    check('api_keys_mode', sql`${t.mode} IN ('live', 'test')`),
  ],
);

/** Every admin change and key event: who, when, from where. */
export const auditLog = pgTable(
  'audit_log',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    id: text('id').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    action: text('action').notNull(),
    tenantId: text('tenant_id'),
    targetType: text('target_type').notNull(),
    targetId: text('target_id').notNull(),
    actorType: text('actor_type').notNull(),
    actorId: text('actor_id').notNull(),
    ip: text('ip'),
    userAgent: text('user_agent'),
    details: jsonb('details').notNull(),
  },
  (t) => [uniqueIndex('audit_log_id').on(t.id), index('audit_log_tenant').on(t.tenantId, t.seq)],
);
