-- The server holding an extraction job's lease (its node id, kept in its data folder): at
-- start a server releases its own leases, never those of other servers sharing the catalog.
ALTER TABLE text_extractions ADD COLUMN claimed_by TEXT;
