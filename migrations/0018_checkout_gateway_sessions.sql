-- A checkout session of a tenant whose connector has its own hosted page (Stripe Checkout): the
-- connector, its session id there and the page's URL the customer is sent to.
ALTER TABLE "checkout_sessions" ADD COLUMN "connector" text;--> statement-breakpoint
ALTER TABLE "checkout_sessions" ADD COLUMN "gateway_session_id" text;--> statement-breakpoint
ALTER TABLE "checkout_sessions" ADD COLUMN "gateway_url" text;
