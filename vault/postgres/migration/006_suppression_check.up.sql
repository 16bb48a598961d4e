-- A create refuses a person erased at their request (vault.Record's
-- Suppression) in its own transaction, so that an erasure cannot slip
-- between the check and the insert. The whole create goes to the server
-- in one round trip, statements and COMMIT together, so the check must
-- stop the transaction in the server: this function raises SQLSTATE
-- CF001 (a code of Coffre's own) naming the field whose token is listed,
-- which aborts everything after it; the store turns it into the vault's
-- suppression error. A field name is schema data, never personal data.
CREATE FUNCTION contact_not_suppressed(tenant text, fields text[], tokens bytea[]) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    -- One primary-key probe per token.
    FOR i IN 1 .. coalesce(array_length(fields, 1), 0) LOOP
        PERFORM FROM suppressions WHERE tenant_id = tenant AND field = fields[i] AND token = tokens[i];
        IF FOUND THEN
            RAISE EXCEPTION 'value of % is on the suppression list', fields[i]
                USING ERRCODE = 'CF001', DETAIL = fields[i];
        END IF;
    END LOOP;
END
$$;
