CREATE TABLE "customers" (
	"tenant_id" text NOT NULL,
	"id" text NOT NULL,
	"email" text,
	"name" text,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "customers_pk" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
-- The tenant's customers, newest first, a page at a time.
CREATE INDEX "customers_tenant_created" ON "customers" USING btree ("tenant_id","created_at","id");
