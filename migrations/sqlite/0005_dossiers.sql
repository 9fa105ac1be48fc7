-- Dossiers (case files): a request, complaint or internal case, the parties it concerns, its
-- status history, and the documents linked to it. See docs/dossiers.md.

-- The categories a tenant files its dossiers under; new tenants start with the common list.
CREATE TABLE dossier_categories (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    name       TEXT NOT NULL,
    position   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

INSERT INTO dossier_categories (tenant_id, name, position)
SELECT t.id, c.name, c.position FROM tenants t,
    (SELECT 'Facture' AS name, 1 AS position UNION ALL SELECT 'Règlement', 2
     UNION ALL SELECT 'Dégrèvement', 3 UNION ALL SELECT 'RDR', 4 UNION ALL SELECT 'FSL', 5
     UNION ALL SELECT 'Résiliation', 6 UNION ALL SELECT 'Autre', 7) c;

CREATE TABLE dossiers (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id          TEXT NOT NULL REFERENCES tenants (id),
    reference          TEXT NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('request', 'complaint', 'internal')),
    category           TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('open', 'closed', 'cancelled')),
    title              TEXT,
    agent              TEXT,
    -- The earlier dossier this one follows (a complaint about a closed request).
    follows_id         INTEGER REFERENCES dossiers (id),
    opened_at          TEXT NOT NULL,
    status_changed_at  TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    created_by         TEXT NOT NULL,
    UNIQUE (tenant_id, reference)
);
CREATE INDEX dossiers_tenant_opened ON dossiers (tenant_id, opened_at, id);

-- Every status a dossier took, with when and by whom: the first row is its opening.
CREATE TABLE dossier_status_changes (
    dossier_id  INTEGER NOT NULL REFERENCES dossiers (id),
    position    INTEGER NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('open', 'closed', 'cancelled')),
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    reason      TEXT,
    PRIMARY KEY (dossier_id, position)
);

-- The parties a dossier concerns: the same party records documents point at.
CREATE TABLE dossier_parties (
    dossier_id  INTEGER NOT NULL REFERENCES dossiers (id),
    position    INTEGER NOT NULL,
    party_id    INTEGER NOT NULL REFERENCES parties (id),
    role        TEXT,
    siret       TEXT,
    PRIMARY KEY (dossier_id, position)
);
CREATE INDEX dossier_parties_party ON dossier_parties (party_id);

-- A document in a dossier, since when and linked by whom. Unlinking deletes the row; the audit
-- log keeps both events.
CREATE TABLE document_dossiers (
    document_id  TEXT NOT NULL REFERENCES documents (id),
    dossier_id   INTEGER NOT NULL REFERENCES dossiers (id),
    linked_at    TEXT NOT NULL,
    linked_by    TEXT NOT NULL,
    PRIMARY KEY (document_id, dossier_id)
);
CREATE INDEX document_dossiers_dossier ON document_dossiers (dossier_id);
