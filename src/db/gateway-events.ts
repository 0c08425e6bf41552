import { and, eq } from './orm.js';
import type { Executor } from './client.js';
import { gatewayWebhookEvents } from './schema.js';

/** Whether a gateway webhook event was already acted on. */
export async function gatewayEventSeen(db: Executor, connector: string, eventId: string): Promise<boolean> {
  const [row] = await db
    .select({ eventId: gatewayWebhookEvents.eventId })
    .from(gatewayWebhookEvents)
    .where(and(eq(gatewayWebhookEvents.connector, connector), eq(gatewayWebhookEvents.eventId, eventId)));
  return row !== undefined;
}

/** Records an event once it has been acted on (a concurrent duplicate is harmless). */
export async function recordGatewayEvent(db: Executor, connector: string, eventId: string): Promise<void> {
  await db.insert(gatewayWebhookEvents).values({ connector, eventId }).onConflictDoNothing();
}
