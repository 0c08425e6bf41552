-- A wallet payment's one statement (the hold, its posting, the payment row and its events) calls
-- this with whether an earlier run of the order (whose workflow Temporal has since deleted) stored
-- a payment: it then raises, and nothing of the statement is written. The check costs no round
-- trip of its own; the caller reads the earlier run's payment only after a refusal.
CREATE OR REPLACE FUNCTION payments_refuse_earlier_run(earlier boolean) RETURNS integer
LANGUAGE plpgsql AS $$
BEGIN
  IF earlier THEN
    RAISE EXCEPTION 'an earlier run of the order stored its payment' USING ERRCODE = 'PA001';
  END IF;
  RETURN 0;
END;
$$;
