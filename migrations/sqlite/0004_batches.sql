-- Batches ("lots") sent by scanning centres: the manifest as received, one row per document with
-- its outcome. The outcome of a document is written in the same transaction as the document
-- itself, so an interrupted batch resumes exactly where it stopped, and a batch sent again
-- answers with the report of the first sending.
CREATE TABLE batches (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id),
    source           TEXT NOT NULL,
    batch_ref        TEXT NOT NULL,
    scanned_at       TEXT NOT NULL,
    -- The hash of the normalised manifest: the same batch_ref with other documents is a conflict.
    manifest_sha256  TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('archiving', 'completed')),
    document_count   INTEGER NOT NULL,
    received_at      TEXT NOT NULL,
    completed_at     TEXT,
    actor            TEXT NOT NULL,
    UNIQUE (tenant_id, source, batch_ref)
);
CREATE INDEX batches_tenant_received ON batches (tenant_id, received_at);

CREATE TABLE batch_documents (
    batch_id     TEXT NOT NULL REFERENCES batches (id),
    position     INTEGER NOT NULL,
    -- The line of a CSV manifest (header = line 1), for the report.
    line         INTEGER,
    file         TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    size         INTEGER NOT NULL,
    media_type   TEXT,
    -- The document's metadata as JSON, batch defaults applied; NULL when it was refused.
    metadata     TEXT,
    outcome      TEXT NOT NULL CHECK (outcome IN ('pending', 'archived', 'already_archived', 'rejected')),
    document_id  TEXT,
    -- JSON list of {field, message} for a rejected document.
    errors       TEXT,
    PRIMARY KEY (batch_id, position)
);
CREATE INDEX batch_documents_pending ON batch_documents (batch_id, position) WHERE outcome = 'pending';

-- The batch a document arrived in (fixed at archiving).
ALTER TABLE documents ADD COLUMN batch_id TEXT REFERENCES batches (id);
ALTER TABLE documents ADD COLUMN batch_ref TEXT;

-- Content a tenant uploaded on its own (PUT /api/v1/blobs): a manifest may name only content its
-- tenant uploaded or already archived, never another tenant's content it learnt the hash of.
CREATE TABLE tenant_blobs (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    sha256      TEXT NOT NULL,
    uploaded_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, sha256)
);
