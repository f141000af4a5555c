-- What the LLM provider billed for each extraction, completed or failed: every request it was
-- sent (answered, cut off at the reply limit, refused or failed) and the tokens it reported.
-- tokens_used (0001) stays their sum. NULL on rows written before this migration.

ALTER TABLE extractions
    ADD COLUMN llm_requests integer,
    ADD COLUMN prompt_tokens integer,
    ADD COLUMN completion_tokens integer;
