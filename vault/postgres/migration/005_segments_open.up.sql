-- Counting a negation (contacts NOT in some districts) cannot use the GIN
-- index of tokens: CountContacts counts such a segment as the records of
-- the rest of the condition minus those that also hold the tokens. The
-- rest is usually "neither restricted nor objected", which every segment
-- holds: this partial index counts those records of a tenant from the
-- index alone (once the visibility map is set by VACUUM), without reading
-- the table.
CREATE INDEX contact_segments_open ON contact_segments (tenant_id) WHERE NOT restricted AND NOT objected;
