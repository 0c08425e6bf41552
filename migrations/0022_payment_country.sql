-- The customer's country a payment was routed by (ROUTING_RULES match.country); absent when the caller gave none.
ALTER TABLE "payments" ADD COLUMN "country" text;
