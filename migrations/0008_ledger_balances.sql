-- A transfer's balance changes, applied to both of its accounts in one call (one round trip
-- instead of two). The rows are updated in byte order of their ids, as the ledger code always
-- orders them, so concurrent transfers between the same accounts never deadlock. A missing
-- account, or one in another currency, raises and undoes the whole statement that called it;
-- the accounts' CHECK constraints still refuse an overdraft.
CREATE OR REPLACE FUNCTION ledger_apply_balances(
  debit_id text,
  credit_id text,
  transfer_currency text,
  debits_posted_delta bigint,
  debits_pending_delta bigint,
  credits_posted_delta bigint,
  credits_pending_delta bigint
) RETURNS void AS $$
DECLARE
  account_id text;
  account_currency text;
BEGIN
  FOREACH account_id IN ARRAY
    CASE WHEN debit_id COLLATE "C" < credit_id COLLATE "C"
      THEN ARRAY[debit_id, credit_id] ELSE ARRAY[credit_id, debit_id] END
  LOOP
    IF account_id = debit_id THEN
      UPDATE ledger_accounts
        SET debits_posted = debits_posted + debits_posted_delta,
            debits_pending = debits_pending + debits_pending_delta
        WHERE id = account_id
        RETURNING currency INTO account_currency;
    ELSE
      UPDATE ledger_accounts
        SET credits_posted = credits_posted + credits_posted_delta,
            credits_pending = credits_pending + credits_pending_delta
        WHERE id = account_id
        RETURNING currency INTO account_currency;
    END IF;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'account % not found', account_id USING ERRCODE = 'LA001';
    END IF;
    IF account_currency <> transfer_currency THEN
      RAISE EXCEPTION 'account % is not in %', account_id, transfer_currency USING ERRCODE = 'LA002';
    END IF;
  END LOOP;
END;
$$ LANGUAGE plpgsql;
