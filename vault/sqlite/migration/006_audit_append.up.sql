-- Entries that record no change (reads, searches, refusals) enter the log
-- already sequenced (audit.Log.Append): the sequencer inserts them with
-- their seq and leaf hash in the transaction that moves the head, instead
-- of inserting them pending and numbering them later. The insert trigger
-- now admits such a row, but only as the next entry of the log: its seq
-- must be one more than the largest stored (0 on an empty log), so an
-- insert can neither fill a gap, nor jump ahead, nor take (and, with
-- REPLACE, delete) a number already held. A pending row still enters with
-- both NULL, and every row under a new id.
DROP TRIGGER audit_entries_insert;

CREATE TRIGGER audit_entries_insert BEFORE INSERT ON audit_entries
	WHEN (NEW.seq IS NULL) <> (NEW.leaf_hash IS NULL)
		OR EXISTS (SELECT 1 FROM audit_entries WHERE id = NEW.id)
		OR (NEW.seq IS NOT NULL
			AND NEW.seq IS NOT (SELECT coalesce(max(seq), -1) + 1 FROM audit_entries WHERE seq IS NOT NULL))
BEGIN
	SELECT RAISE(ABORT, 'INSERT on audit_entries refused: the audit log is append-only (an entry enters under a new id, pending or as the next entry)');
END;
