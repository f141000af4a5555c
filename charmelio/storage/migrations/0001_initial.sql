-- Documents, extractions and their clause findings.

CREATE TABLE documents (
    id            text PRIMARY KEY,
    sha256        text NOT NULL UNIQUE,
    filename      text,
    size_bytes    bigint NOT NULL CHECK (size_bytes >= 0),
    object_key    text NOT NULL,
    page_count    integer,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE extractions (
    id             uuid PRIMARY KEY,
    -- Not a foreign key: a failure is recorded even for a document that was never uploaded (no
    -- sha256 or size to invent a row from). store_results creates or locks the document row in the
    -- same transaction as every completed extraction.
    document_id    text NOT NULL,
    workflow_id    text NOT NULL,
    status         text NOT NULL CHECK (status IN ('completed', 'failed', 'superseded')),
    provider       text,
    model          text,
    artifact_key   text,
    clause_count   integer NOT NULL DEFAULT 0,
    quotes_dropped integer NOT NULL DEFAULT 0,
    tokens_used    integer,
    fields         jsonb,
    failed_stage   text,
    error_type     text,
    error_message  text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'failed' OR error_type IS NOT NULL)
);
CREATE INDEX extractions_document_idx ON extractions (document_id, finished_at DESC);
CREATE INDEX extractions_status_idx ON extractions (status, finished_at DESC);

CREATE TABLE clauses (
    extraction_id  uuid NOT NULL REFERENCES extractions (id) ON DELETE CASCADE,
    ordinal        integer NOT NULL,
    category       text NOT NULL,
    quote          text NOT NULL,
    page           integer NOT NULL CHECK (page >= 1),
    confidence     real NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    start_offset   integer,
    end_offset     integer,
    PRIMARY KEY (extraction_id, ordinal)
);
CREATE INDEX clauses_category_idx ON clauses (category);
