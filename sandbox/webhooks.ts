import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SIGNATURE_HEADER, signWebhook } from './signature.js';
import type { WebhookPayload } from './wire.js';

/**
 * Delivers signed webhooks the way a PSP does: at least once, retried with backoff, possibly
 * duplicated or reordered when the fault settings ask for it. Delivery never throws into the
 * server: Paysaga being down must not take the sandbox down with it.
 */
export type WebhookEvent = WebhookPayload & { id: string; created: number };

export interface WebhookFaults {
  duplicate: boolean;
  outOfOrder: boolean;
  /** How long a held-back event waits for a second one to overtake it. */
  outOfOrderDelayMs: number;
}

export interface WebhookSenderOptions {
  url: string | undefined;
  secret: string;
  retryDelaysMs: readonly number[];
  faults(): WebhookFaults;
}

export interface WebhookDeliveryStats {
  sent: number;
  delivered: number;
  failed: number;
  attempts: number;
}

export class WebhookSender {
  private readonly pending = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private held: { event: WebhookEvent; timer: NodeJS.Timeout } | undefined;
  readonly stats: WebhookDeliveryStats = { sent: 0, delivered: 0, failed: 0, attempts: 0 };

  constructor(private readonly options: WebhookSenderOptions) {}

  send(payload: WebhookPayload): void {
    if (!this.options.url || this.abort.signal.aborted) return;
    const event: WebhookEvent = {
      id: `evt_${randomBytes(12).toString('base64url')}`,
      ...payload,
      created: Math.floor(Date.now() / 1000),
    };
    this.stats.sent += 1;
    const faults = this.options.faults();
    if (!faults.outOfOrder && !this.held) {
      this.track(this.dispatch(event));
      return;
    }
    if (!this.held) {
      const timer = setTimeout(() => this.releaseHeld(), faults.outOfOrderDelayMs);
      this.held = { event, timer };
      return;
    }
    // The newer event goes first and the held one only after it has been delivered.
    const held = this.takeHeld();
    this.track(
      (async () => {
        await this.dispatch(event);
        if (held) await this.dispatch(held);
      })(),
    );
  }

  /** Resolves once every queued, held and retrying delivery has finished. */
  async idle(): Promise<void> {
    while (this.pending.size > 0 || this.held) {
      await Promise.race([...this.pending, sleep(10)]);
    }
  }

  close(): void {
    this.abort.abort();
    if (this.held) clearTimeout(this.held.timer);
    this.held = undefined;
  }

  private releaseHeld(): void {
    const held = this.takeHeld();
    if (held) this.track(this.dispatch(held));
  }

  private takeHeld(): WebhookEvent | undefined {
    const held = this.held;
    if (!held) return undefined;
    clearTimeout(held.timer);
    this.held = undefined;
    return held.event;
  }

  private track(delivery: Promise<void>): void {
    this.pending.add(delivery);
    void delivery.finally(() => this.pending.delete(delivery));
  }

  private async dispatch(event: WebhookEvent): Promise<void> {
    const body = JSON.stringify(event);
    await this.deliver(body);
    // A duplicate carries the same event id, as a real PSP's redelivery does.
    if (this.options.faults().duplicate) await this.deliver(body);
  }

  private async deliver(body: string): Promise<void> {
    const { url, secret, retryDelaysMs } = this.options;
    if (!url) return;
    const signal = this.abort.signal;
    for (let attempt = 0; attempt <= retryDelaysMs.length; attempt += 1) {
      if (signal.aborted) return;
      this.stats.attempts += 1;
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            // Re-signed on every attempt so a late retry is not rejected as stale.
            [SIGNATURE_HEADER]: signWebhook(secret, body, Math.floor(Date.now() / 1000)),
          },
          body,
          signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]),
        });
        await response.arrayBuffer().catch(() => undefined);
        if (response.ok) {
          this.stats.delivered += 1;
          return;
        }
      } catch {
        // Connection refused, reset or timed out: retry below.
      }
      const delay = retryDelaysMs[attempt];
      if (delay === undefined) break;
      try {
        await sleep(delay, undefined, { signal });
      } catch {
        return;
      }
    }
    this.stats.failed += 1;
  }
}
