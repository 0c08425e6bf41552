DROP INDEX "events_unpublished";--> statement-breakpoint
CREATE INDEX "events_unpublished" ON "events" USING btree ("seq") WHERE "events"."published_at" IS NULL;