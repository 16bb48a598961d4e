-- The pending queue is read through audit_entries_pending_txid alone
-- (migration 007): from the pending floor up, then in id order. The index
-- by id, which a read of the queue walked from its first entry, numbered
-- rows included until VACUUM, goes; a write adds its entry to one index
-- fewer.
DROP INDEX audit_entries_pending;
