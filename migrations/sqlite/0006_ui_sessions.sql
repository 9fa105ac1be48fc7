-- Web UI sessions. The browser holds a random session id in an HTTP-only cookie; the catalog
-- keeps only its SHA-256, the token the agent signed in with (its role and tenant apply), and
-- the secret that the session's forms carry against cross-site request forgery.
CREATE TABLE ui_sessions (
    id_sha256   TEXT PRIMARY KEY,
    token_id    TEXT NOT NULL REFERENCES tokens (id),
    csrf        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX ui_sessions_expiry ON ui_sessions (expires_at);
