CREATE TABLE "command_offsets" (
	"consumer_group" text NOT NULL,
	"topic" text NOT NULL,
	"partition" integer NOT NULL,
	"next_offset" bigint NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "command_offsets_consumer_group_topic_partition_pk" PRIMARY KEY("consumer_group","topic","partition")
);
