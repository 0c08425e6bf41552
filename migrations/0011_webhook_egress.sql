-- The deliveries list pages through an endpoint's deliveries by seq, newest or oldest first;
-- nothing reads them by created_at.
DROP INDEX IF EXISTS "webhook_deliveries_endpoint";--> statement-breakpoint
CREATE INDEX "webhook_deliveries_endpoint" ON "webhook_deliveries" USING btree ("endpoint_id","seq");--> statement-breakpoint
-- Attempts recorded before errors were made generic carry the raw connection error, internal
-- addresses and ports included; the deliveries list shows them to the tenant. Only the generic
-- reason is kept.
UPDATE "webhook_attempts" SET "error" = CASE
    WHEN "error" LIKE '%ECONNREFUSED%' THEN 'connection refused'
    WHEN "error" LIKE '%ENOTFOUND%' OR "error" LIKE '%EAI_AGAIN%' THEN 'name did not resolve'
    WHEN "error" LIKE '%ECONNRESET%' OR "error" LIKE '%socket hang up%' THEN 'connection reset'
    ELSE 'connection failed'
  END
  WHERE "error" IS NOT NULL AND "error" <> 'timed out' AND "error" !~ '^answered [0-9]{3}$';
