CREATE TABLE "payment_links" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"amount" bigint NOT NULL,
	"currency" text NOT NULL,
	"description" text,
	"success_url" text NOT NULL,
	"cancel_url" text NOT NULL,
	"allowed_methods" text[] NOT NULL,
	"session_expires_in_seconds" integer NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"window_started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"window_sessions" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
-- The tenant's links, newest first, a page at a time.
CREATE INDEX "payment_links_tenant_created" ON "payment_links" USING btree ("tenant_id","created_at","id");
--> statement-breakpoint
ALTER TABLE "checkout_sessions" ADD COLUMN "payment_link_id" text;
