ALTER TABLE "payments" ADD COLUMN "settled_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "refunds_tenant_created" ON "refunds" USING btree ("tenant_id","created_at");--> statement-breakpoint
-- GET /v1/reports/summary reads a tenant's date range from this index alone (an index-only scan):
-- every column the report groups or sums is included, so the heap is not visited.
CREATE INDEX "payments_report" ON "payments" USING btree ("tenant_id","created_at") INCLUDE ("status","method_type","currency","amount","amount_captured","amount_refunded","settled_at");--> statement-breakpoint
-- Payments settled before the column existed: their last change is the closest known time.
UPDATE "payments" SET "settled_at" = "updated_at" WHERE "status" <> 'processing' AND "settled_at" IS NULL;
