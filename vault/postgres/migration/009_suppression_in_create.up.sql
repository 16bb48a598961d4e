-- A create now checks the suppression list inside its own statement (a
-- WITH query on the list's primary key that keeps the record's INSERT
-- from writing anything when a token is listed; see create.go), at a
-- fraction of the cost of calling the function of migration 006, which no
-- statement uses any more.
DROP FUNCTION contact_not_suppressed(text, text[], bytea[]);
