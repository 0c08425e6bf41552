-- The relay copies the outbox to each sink (webhooks, kafka, amqp) on a cursor of its own, so one
-- sink's outage never holds another. A cursor is a position in (txid, seq) order: every event
-- records the transaction that wrote it, and the relay reads only events whose transaction is
-- older than every transaction still running (pg_snapshot_xmin), so an event whose transaction
-- commits late (a lower seq committed after a higher one) is never passed over.
ALTER TABLE "events" ADD COLUMN "txid" xid8 DEFAULT pg_current_xact_id() NOT NULL;--> statement-breakpoint
CREATE INDEX "events_relay_order" ON "events" USING btree ("txid", "seq");--> statement-breakpoint
CREATE TABLE "event_relay_cursors" (
  "sink" text PRIMARY KEY NOT NULL,
  "txid" xid8 NOT NULL,
  "seq" bigint NOT NULL,
  "updated_at" timestamp with time zone DEFAULT now() NOT NULL
);--> statement-breakpoint
-- An existing outbox: every sink resumes at the oldest event the single relay had not published.
INSERT INTO "event_relay_cursors" ("sink", "txid", "seq")
SELECT sink, pg_current_xact_id(),
       coalesce((SELECT min("seq") - 1 FROM "events" WHERE "published_at" IS NULL), (SELECT max("seq") FROM "events"))
  FROM unnest(ARRAY['webhooks', 'kafka', 'amqp']) AS sinks(sink)
 WHERE EXISTS (SELECT 1 FROM "events");--> statement-breakpoint
DROP INDEX "events_unpublished";--> statement-breakpoint
ALTER TABLE "events" DROP COLUMN "published_at";--> statement-breakpoint
-- An endpoint's workflow is woken (signalled) only when it is idle: at most one signal per idle
-- spell, however many batches bring it deliveries meanwhile.
ALTER TABLE "webhook_endpoints" ADD COLUMN "awake" boolean DEFAULT false NOT NULL;
