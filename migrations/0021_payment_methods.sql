-- Cards customers saved at a gateway: Paysaga keeps the gateway's id and the card's public details, never a number.
CREATE TABLE "payment_methods" (
	"tenant_id" text NOT NULL,
	"id" text NOT NULL,
	"customer_id" text NOT NULL,
	"connector" text NOT NULL,
	"status" text NOT NULL,
	"gateway_method_id" text NOT NULL,
	"gateway_setup_id" text,
	"gateway_customer_id" text,
	"network_transaction_id" text,
	"brand" text,
	"last4" text,
	"exp_month" integer,
	"exp_year" integer,
	"action_url" text,
	"failure_code" text,
	"failure_message" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "payment_methods_pk" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "payment_methods_customer_fk" FOREIGN KEY ("tenant_id","customer_id") REFERENCES "customers"("tenant_id","id"),
	CONSTRAINT "payment_methods_status" CHECK ("status" IN ('active', 'requires_action', 'failed', 'deleted'))
);
--> statement-breakpoint
-- A customer's methods, newest first.
CREATE INDEX "payment_methods_customer" ON "payment_methods" USING btree ("tenant_id","customer_id","created_at");
--> statement-breakpoint
-- A gateway's webhook names the method by Paysaga's id alone.
CREATE UNIQUE INDEX "payment_methods_id" ON "payment_methods" USING btree ("id");
--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "default_payment_method_id" text;
--> statement-breakpoint
-- A wallet that tops itself up from a saved card when a payment would leave it short.
CREATE TABLE "wallet_auto_top_ups" (
	"tenant_id" text NOT NULL,
	"customer_id" text NOT NULL,
	"currency" text NOT NULL,
	"threshold" bigint NOT NULL,
	"amount" bigint NOT NULL,
	"daily_limit" bigint NOT NULL,
	"payment_method_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "wallet_auto_top_ups_pk" PRIMARY KEY("tenant_id","customer_id"),
	CONSTRAINT "wallet_auto_top_ups_method_fk" FOREIGN KEY ("tenant_id","payment_method_id") REFERENCES "payment_methods"("tenant_id","id")
);
--> statement-breakpoint
-- Each automatic top-up, at most one per payment: the day's sum is held against the daily limit.
CREATE TABLE "wallet_auto_top_up_runs" (
	"tenant_id" text NOT NULL,
	"payment_id" text NOT NULL,
	"customer_id" text NOT NULL,
	"currency" text NOT NULL,
	"amount" bigint NOT NULL,
	"day" date NOT NULL,
	"status" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "wallet_auto_top_up_runs_pk" PRIMARY KEY("tenant_id","payment_id"),
	CONSTRAINT "wallet_auto_top_up_runs_status" CHECK ("status" IN ('reserved', 'succeeded', 'failed', 'reversed'))
);
--> statement-breakpoint
CREATE INDEX "wallet_auto_top_up_runs_day" ON "wallet_auto_top_up_runs" USING btree ("tenant_id","customer_id","day");
