-- What an archive is bound to for life, written the first time a server opens it: where its
-- content lives (`local`, or the `s3://bucket/prefix` URL). A server started later with
-- another store refuses to start rather than report every document missing.
CREATE TABLE archive_settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
