import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

/** What PostgreSQL announces for each event committed (migrations/0005_events_notify.sql). */
export interface EventNotice {
  seq: number;
  tenantId: string;
  subject: string;
  type: string;
  customerId: string | null;
}

/** A notice, or `resync`: the hub (re)connected and may have missed some; read from your cursor. */
export type ChannelListener<T> = (notice: T | 'resync') => void;
export type HubListener = ChannelListener<EventNotice>;

export const EVENTS_CHANNEL = 'paysaga_events';

/**
 * One `LISTEN <channel>` connection per process and channel, opened when the first listener
 * subscribes and opened again (with backoff) when it drops. Listeners keep their own state and
 * read what changed themselves, so a notice lost while reconnecting costs nothing: `resync`
 * makes each read what it has not yet.
 */
export class PgChannel<T> {
  readonly #listeners = new Set<ChannelListener<T>>();
  #client: pg.Client | undefined;
  #connecting: Promise<void> | undefined;
  #closed = false;

  constructor(
    private readonly databaseUrl: string | undefined,
    private readonly channel: string,
    /** A payload as its writer sends it, or undefined for anything else on the channel. */
    private readonly parse: (payload: string | undefined) => T | undefined,
  ) {}

  subscribe(listener: ChannelListener<T>): () => void {
    this.#listeners.add(listener);
    this.#ensureConnected();
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#connecting;
    await this.#client?.end().catch(() => undefined);
  }

  #ensureConnected(): void {
    if (this.#client || this.#connecting || this.#closed || !this.databaseUrl) return;
    this.#connecting = this.#connect().finally(() => {
      this.#connecting = undefined;
    });
  }

  async #connect(): Promise<void> {
    for (let delay = 200; !this.#closed; delay = Math.min(delay * 2, 5_000)) {
      const client = new pg.Client({ connectionString: this.databaseUrl, connectionTimeoutMillis: 5_000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query(`LISTEN ${this.channel}`);
      } catch {
        await client.end().catch(() => undefined);
        await sleep(delay);
        continue;
      }
      client.on('notification', (message) => {
        const notice = this.parse(message.payload);
        if (notice) this.#notify(notice);
      });
      client.on('end', () => {
        this.#client = undefined;
        if (this.#listeners.size > 0) this.#ensureConnected();
      });
      this.#client = client;
      this.#notify('resync');
      return;
    }
  }

  /** Each listener on its own: one that throws neither stops the others nor the process. */
  #notify(notice: T | 'resync'): void {
    for (const listener of this.#listeners) {
      try {
        listener(notice);
      } catch (error) {
        console.error('event listener failed', error);
      }
    }
  }
}

/**
 * The API's live streams' and the worker's event relay's `LISTEN paysaga_events`: listeners keep
 * their own cursor (the event `seq`) and read the events themselves.
 */
export class EventHub extends PgChannel<EventNotice> {
  constructor(databaseUrl: string | undefined) {
    super(databaseUrl, EVENTS_CHANNEL, parseNotice);
  }
}

/** A notice as the trigger writes it; anything else on the channel (a stray NOTIFY) is ignored. */
function parseNotice(payload: string | undefined): EventNotice | undefined {
  if (!payload) return undefined;
  try {
    const notice = JSON.parse(payload) as EventNotice;
    return typeof notice.seq === 'number' && typeof notice.tenantId === 'string' ? notice : undefined;
  } catch {
    return undefined;
  }
}
