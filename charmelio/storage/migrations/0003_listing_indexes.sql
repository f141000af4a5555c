-- Indexes in the order the API lists extractions (newest first by finished_at, then id, resumed
-- from a keyset cursor), so a page reads its rows from an index instead of sorting the table:
-- unfiltered, by status, and by document (whose current extraction is found the same way).
-- Plain CREATE INDEX runs inside the migration's transaction and blocks writes to extractions
-- while it builds: on a large installation, apply it in a quiet moment.

CREATE INDEX extractions_listing_idx ON extractions (finished_at DESC, id DESC);

DROP INDEX extractions_status_idx;
CREATE INDEX extractions_status_idx ON extractions (status, finished_at DESC, id DESC);

DROP INDEX extractions_document_idx;
CREATE INDEX extractions_document_idx ON extractions (document_id, finished_at DESC, id DESC);
