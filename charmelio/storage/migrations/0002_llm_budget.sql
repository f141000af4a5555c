-- The provider's rate limits, shared by every llm worker process: one token bucket per budget name
-- (requests and tokens), refilled continuously at the configured per-minute rates. Levels go
-- negative while reservations wait their turn. Time is the database's clock, so the workers' clocks
-- never need to agree.

CREATE TABLE llm_budget (
    name         text PRIMARY KEY,
    requests     double precision NOT NULL,
    tokens       double precision NOT NULL,
    updated_at   timestamptz NOT NULL
);
