-- The merchant's page the customer returns to after 3-D Secure (POST /v1/payments returnUrl).
ALTER TABLE "payments" ADD COLUMN IF NOT EXISTS "return_url" text;
