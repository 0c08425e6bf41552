ALTER TABLE "payments" ADD COLUMN "attempts" jsonb DEFAULT '[]'::jsonb NOT NULL;
--> statement-breakpoint
-- Payments made before attempts were recorded had exactly one: it is the payment itself.
UPDATE "payments" SET "attempts" = jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
	'number', 1,
	'method', jsonb_strip_nulls(jsonb_build_object('type', "method_type", 'card', "card")),
	'status', CASE "status"
		WHEN 'processing' THEN 'processing'
		-- Money in doubt: an operator settles it; the attempt's outcome is not known.
		WHEN 'requires_attention' THEN 'processing'
		WHEN 'requires_action' THEN 'requires_action'
		WHEN 'failed' THEN 'failed'
		WHEN 'canceled' THEN 'canceled'
		ELSE 'succeeded'
	END,
	'failureCode', CASE WHEN "status" = 'failed' THEN "failure_code" END,
	'failureMessage', CASE WHEN "status" = 'failed' THEN "failure_message" END,
	'gatewayReference', "gateway_authorization_id",
	'connector', "connector",
	'createdAt', to_char("created_at" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
)));
