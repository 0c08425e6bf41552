-- Integration profiles (src/profiles/). The messages an inbound binding has acted on, by the
-- message's own idempotency key: a message seen again is a duplicate, not a second command.
CREATE TABLE "profile_messages" (
	"tenant_id" text NOT NULL,
	"profile" text NOT NULL,
	"binding" text NOT NULL,
	"idempotency_key" text NOT NULL,
	"resource_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "profile_messages_pk" PRIMARY KEY("tenant_id","profile","binding","idempotency_key")
);
--> statement-breakpoint
-- A stable number for a payment, for contracts whose payment ids are numbers; given the first
-- time a message needs one, never reused.
CREATE TABLE "payment_numbers" (
	"payment_id" text PRIMARY KEY NOT NULL,
	"number" bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
	CONSTRAINT "payment_numbers_number_unique" UNIQUE("number")
);
--> statement-breakpoint
-- Events an outbound binding could not map (or publish) while the rest of the relay went on: each
-- is tried again on its own, with backoff, until it goes out.
CREATE TABLE "profile_failures" (
	"sink" text NOT NULL,
	"event_id" text NOT NULL,
	"binding" text NOT NULL,
	"reason" text NOT NULL,
	"attempts" integer DEFAULT 1 NOT NULL,
	"next_attempt_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "profile_failures_pk" PRIMARY KEY("sink","event_id","binding")
);
