CREATE TABLE "gateway_webhook_events" (
	"connector" text NOT NULL,
	"event_id" text NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "gateway_webhook_events_connector_event_id_pk" PRIMARY KEY("connector","event_id")
);
