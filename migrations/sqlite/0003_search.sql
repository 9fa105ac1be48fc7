-- Search: the text of documents (extracted from PDFs and emails, or OCR), indexed for full-text
-- search beside the title. One row per document that has text.
CREATE TABLE document_texts (
    document_id  TEXT PRIMARY KEY REFERENCES documents (id),
    text         TEXT NOT NULL
);
