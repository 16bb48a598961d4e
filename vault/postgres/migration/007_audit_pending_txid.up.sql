-- An entry records the transaction that wrote it, so that the check an
-- append of reads makes ("is any entry pending?") reads only the recent
-- part of the pending queue. Pending rows leave the partial index
-- audit_entries_pending when the sequencer numbers them, but their index
-- entries stay until VACUUM removes them; a check that starts from the
-- lowest id walks all of them, on every batch of reads. A transaction id
-- below the xmin of a snapshot in which no entry was pending belongs to a
-- transaction that had ended by then: its entry, if committed, was seen
-- and numbered. So after such a check the next ones look only at entries
-- from transactions at or above that xmin (vault/postgres
-- sequence_append.go), through the index below, whose dead entries lie
-- before the range scanned.
--
-- pg_current_xact_id() is the writer's top-level transaction id, assigned
-- at the latest when the row is inserted; the sequence_once trigger
-- compares whole rows, so an UPDATE can no more change it than any other
-- column. Rows written before this migration have none: the check skips
-- them, and the sequencer, which reads the pending queue by id, numbers
-- them as before.
ALTER TABLE audit_entries ADD COLUMN txid xid8;
ALTER TABLE audit_entries ALTER COLUMN txid SET DEFAULT pg_current_xact_id();

CREATE INDEX audit_entries_pending_txid ON audit_entries (txid) WHERE seq IS NULL;
