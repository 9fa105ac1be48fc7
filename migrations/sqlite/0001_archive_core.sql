-- The archive core: tenants, stored content, parties, documents, the change sequence and the
-- audit log. Timestamps are RFC 3339 UTC text with microseconds, dates YYYY-MM-DD text
-- (see src/dates.rs): the same representation in every catalog backend.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

INSERT INTO tenants (id, name, created_at)
VALUES ('default', 'Default organisation', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

-- One row per stored object: content is shared by every document with the same hash.
CREATE TABLE blobs (
    sha256      TEXT PRIMARY KEY,
    size        INTEGER NOT NULL CHECK (size >= 0),
    media_type  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- Individuals and companies, shared by the documents that concern them.
CREATE TABLE parties (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    kind        TEXT NOT NULL CHECK (kind IN ('individual', 'company')),
    last_name   TEXT,
    first_name  TEXT,
    birth_date  TEXT,
    name        TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- Each reference designates one party per tenant.
CREATE TABLE party_references (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    kind        TEXT NOT NULL CHECK (kind IN ('nir', 'client_number', 'siren', 'siret', 'company_number')),
    value       TEXT NOT NULL,
    party_id    INTEGER NOT NULL REFERENCES parties (id),
    PRIMARY KEY (tenant_id, kind, value)
);
CREATE INDEX party_references_party ON party_references (party_id);

-- Every catalog change takes the next sequence number; the search index follows this log.
CREATE TABLE changes (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    document_id  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    at           TEXT NOT NULL
);

CREATE TABLE documents (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    sha256         TEXT NOT NULL REFERENCES blobs (sha256),
    size           INTEGER NOT NULL CHECK (size >= 0),
    media_type     TEXT NOT NULL,
    file_name      TEXT,
    direction      TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    channel        TEXT NOT NULL CHECK (channel IN ('postal', 'email', 'fax', 'web', 'counter')),
    source         TEXT NOT NULL,
    document_type  TEXT NOT NULL,
    document_date  TEXT NOT NULL,
    received_at    TEXT,
    sent_at        TEXT,
    title          TEXT,
    agent          TEXT,
    recipient      TEXT,
    sensitive      BOOLEAN NOT NULL DEFAULT FALSE,
    external_id    TEXT,
    archived_at    TEXT NOT NULL,
    -- The change sequence number of the archiving: unique, stable, in archive order.
    archived_seq   INTEGER NOT NULL UNIQUE,
    -- The change sequence number of the latest change.
    seq            INTEGER NOT NULL
);
CREATE UNIQUE INDEX documents_external_id ON documents (tenant_id, source, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX documents_sha256 ON documents (sha256);
CREATE INDEX documents_tenant_date ON documents (tenant_id, document_date);

-- The parties a document concerns, in the order its sender listed them.
CREATE TABLE document_parties (
    document_id  TEXT NOT NULL REFERENCES documents (id),
    position     INTEGER NOT NULL,
    party_id     INTEGER NOT NULL REFERENCES parties (id),
    role         TEXT,
    -- The establishment a company document was filed under, when its sender named one.
    siret        TEXT,
    PRIMARY KEY (document_id, position)
);
CREATE INDEX document_parties_party ON document_parties (party_id);

-- Append-only, hash-chained (src/audit/mod.rs). The triggers stop accidental edits through the
-- application; the chain catches deliberate ones made behind its back.
CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT NOT NULL,
    tenant_id    TEXT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    document_id  TEXT,
    details      TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX audit_log_document ON audit_log (document_id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
