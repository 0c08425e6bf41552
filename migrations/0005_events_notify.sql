-- Every event committed is announced on the channel paysaga_events, so each API process's live
-- streams (SSE, WebSocket) learn of it without polling and without sharing memory.
CREATE OR REPLACE FUNCTION paysaga_notify_event() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify(
    'paysaga_events',
    json_build_object(
      'seq', NEW.seq,
      'tenantId', NEW.tenant_id,
      'subject', NEW.subject,
      'type', NEW.type,
      'customerId', NEW.data->>'customerId'
    )::text
  );
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION paysaga_notify_event();
