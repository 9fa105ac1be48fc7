-- Access control: bearer tokens (stored as SHA-256 of the secret), the key that hashes
-- identifiers in the audit log, and indexes for the auditors' queries.

CREATE TABLE tokens (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    role           TEXT NOT NULL CHECK (role IN ('agent', 'agent_sensitive', 'scanner', 'outbound', 'auditor', 'admin')),
    name           TEXT,
    source         TEXT,
    secret_sha256  TEXT NOT NULL UNIQUE,
    created_at     TEXT NOT NULL,
    expires_at     TEXT,
    revoked_at     TEXT
);
CREATE INDEX tokens_tenant ON tokens (tenant_id);

-- Secrets the archive generates for itself, shared by every node using this catalog.
CREATE TABLE archive_secrets (
    name   TEXT PRIMARY KEY,
    value  BLOB NOT NULL
);

CREATE INDEX audit_log_tenant_seq ON audit_log (tenant_id, seq);
CREATE INDEX audit_log_tenant_actor ON audit_log (tenant_id, actor, seq);
