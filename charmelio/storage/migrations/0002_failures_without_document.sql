-- A failed extraction may name a document that was never uploaded (parse_pdf found no PDF), and
-- the failure must still be recorded. No row can be invented for it in `documents` (its sha256 and
-- size are unknown), so `extractions.document_id` stops being a foreign key. store_results creates
-- or locks the document row in the same transaction as every completed extraction, so completed
-- and superseded extractions still always have their document; readers join failures with LEFT JOIN.

ALTER TABLE extractions DROP CONSTRAINT extractions_document_id_fkey;
