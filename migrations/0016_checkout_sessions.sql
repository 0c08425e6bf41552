CREATE TABLE "checkout_sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"order_id" text NOT NULL,
	"customer_id" text NOT NULL,
	"amount" bigint NOT NULL,
	"currency" text NOT NULL,
	"description" text,
	"success_url" text NOT NULL,
	"cancel_url" text NOT NULL,
	"allowed_methods" text[] NOT NULL,
	"status" text NOT NULL,
	"payment_id" text,
	"expires_at" timestamp with time zone NOT NULL,
	"completed_at" timestamp with time zone,
	"expired_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
-- One session an order can still be paid through (open) or was paid through (complete); expired
-- ones may pile up.
CREATE UNIQUE INDEX "checkout_sessions_tenant_order_live" ON "checkout_sessions" USING btree ("tenant_id","order_id") WHERE "status" <> 'expired';
