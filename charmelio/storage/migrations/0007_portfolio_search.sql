-- The portfolio: search every contract's current extraction by its key fields and its clauses.
--
-- The key fields live in `extractions.fields` (jsonb, written by the store stage). Generated
-- columns make them plain, typed, queryable columns that can never disagree with `fields`, so no
-- writer has to remember them. Generated columns need immutable expressions: the two functions
-- below are (make_date, substr and the integer casts are immutable; a text-to-date cast is not,
-- since it reads DateStyle), and the store stage always writes ISO dates.
--
-- Adding stored generated columns rewrites both tables, holding their locks while it does: on a
-- large installation, apply this migration in a quiet moment.

CREATE FUNCTION charmelio_iso_date(value text) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN value ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
    THEN make_date(substr(value, 1, 4)::int, substr(value, 6, 2)::int, substr(value, 9, 2)::int)
END;

-- Every party's name, one a line: what the `party` filter searches (case-insensitive substring).
CREATE FUNCTION charmelio_party_names(parties jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (
    SELECT string_agg(party ->> 'name', E'\n')
    FROM jsonb_array_elements(
        CASE WHEN jsonb_typeof(parties) = 'array' THEN parties ELSE '[]'::jsonb END
    ) AS party
);

ALTER TABLE extractions
    ADD COLUMN governing_law text
        GENERATED ALWAYS AS (fields ->> 'governing_law') STORED,
    ADD COLUMN effective_date date
        GENERATED ALWAYS AS (charmelio_iso_date(fields ->> 'effective_date')) STORED,
    -- The result calls it termination_date; the portfolio calls it expiration (CUAD's name).
    ADD COLUMN expiration_date date
        GENERATED ALWAYS AS (charmelio_iso_date(fields ->> 'termination_date')) STORED,
    ADD COLUMN party_names text
        GENERATED ALWAYS AS (charmelio_party_names(fields -> 'parties')) STORED;

-- Full-text search over quotes (English stemming), read through a GIN index.
ALTER TABLE clauses
    ADD COLUMN quote_search tsvector
        GENERATED ALWAYS AS (to_tsvector('english', quote)) STORED;
CREATE INDEX clauses_quote_search_idx ON clauses USING gin (quote_search);

-- "Has a category" and "lacks a category" probe one contract's clauses of one category; with the
-- extraction in the key that is one index look-up. It also serves everything the old
-- category-only index did.
CREATE INDEX clauses_category_extraction_idx ON clauses (category, extraction_id);
DROP INDEX clauses_category_idx;

-- The portfolio lists current (completed) extractions newest first.
CREATE INDEX extractions_portfolio_idx ON extractions (finished_at DESC, id DESC)
    WHERE status = 'completed';
