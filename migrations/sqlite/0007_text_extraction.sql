-- Emails and document text.
--
-- text_extractions: one row per document whose words the archive reads (PDF text layer, OCR of
-- scans, plain text, email bodies). Its pending rows are the extraction job queue, kept in the
-- catalog so that a restart loses no job; `claimed_until` is a lease, so a job taken by a
-- process that died is taken again once the lease lapses.
CREATE TABLE text_extractions (
    document_id    TEXT PRIMARY KEY REFERENCES documents (id),
    sha256         TEXT NOT NULL,
    media_type     TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed', 'skipped')),
    -- Only a server with Tesseract takes a job that needs OCR.
    needs_ocr      BOOLEAN NOT NULL DEFAULT FALSE,
    method         TEXT CHECK (method IN ('text', 'pdf', 'ocr', 'email')),
    pages          INTEGER,
    -- Why it failed or was skipped, or what a pending job waits for.
    reason         TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    claimed_until  TEXT,
    queued_at      TEXT NOT NULL,
    finished_at    TEXT
);
CREATE INDEX text_extractions_queue ON text_extractions (needs_ocr, queued_at)
    WHERE status = 'pending';

-- Documents archived before this migration wait for their text like new ones.
INSERT INTO text_extractions (document_id, sha256, media_type, status, needs_ocr, queued_at)
SELECT id, sha256, media_type, 'pending',
       media_type IN ('image/tiff', 'image/jpeg', 'image/png'),
       strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
FROM documents WHERE id NOT IN (SELECT document_id FROM document_texts);

-- The headers of documents that are emails (the .eml itself is the document's content).
CREATE TABLE document_emails (
    document_id  TEXT PRIMARY KEY REFERENCES documents (id),
    message_id   TEXT,
    sender       TEXT,
    -- JSON arrays of addresses as written ("Name <address>").
    recipients   TEXT NOT NULL,
    cc           TEXT NOT NULL,
    subject      TEXT,
    -- The Date header, RFC 3339 UTC.
    sent_date    TEXT
);

-- An email's attachments are documents of their own, pointing at the email they came in.
ALTER TABLE documents ADD COLUMN attached_to TEXT REFERENCES documents (id);
ALTER TABLE documents ADD COLUMN attachment_position INTEGER;
CREATE INDEX documents_attached_to ON documents (attached_to) WHERE attached_to IS NOT NULL;
