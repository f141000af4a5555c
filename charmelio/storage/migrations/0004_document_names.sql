-- Every name a document was uploaded under. The id comes from the bytes, so the same contract
-- uploaded as "msa.pdf" and as "MSA final.pdf" is one document with two names; documents.filename
-- stays the first of them.
CREATE TABLE document_names (
    document_id       text NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    filename          text NOT NULL,
    first_uploaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (document_id, filename)
);

INSERT INTO document_names (document_id, filename, first_uploaded_at)
SELECT id, filename, created_at FROM documents WHERE filename IS NOT NULL;
