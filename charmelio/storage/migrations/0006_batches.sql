-- Each contract extracted once: every extraction records the identity of what extracted it
-- (provider/model/prompt-and-schema version, `ExtractorIdentity.key`), and a batch reuses a
-- document's current extraction when that identity is the one the llm pool runs now. Rows from
-- before this column have no identity and are never reused.
ALTER TABLE extractions ADD COLUMN extractor text;

-- The members of each batch, in list order, so "list its documents" and the summary table work
-- from any terminal long after the batch's workflow history is gone. Written page by page by the
-- batch itself (read_batch_page), idempotently.
CREATE TABLE batch_documents (
    batch_id     text NOT NULL,
    position     integer NOT NULL CHECK (position >= 0),
    document_id  text NOT NULL,
    PRIMARY KEY (batch_id, position)
);
CREATE INDEX batch_documents_document_idx ON batch_documents (document_id);
