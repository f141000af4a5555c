"""A synthetic portfolio bulk-loaded into Postgres with COPY: the benchmark's 10,000 contracts and
the portfolio tests' few dozen, with key fields and findings drawn from a seeded generator.

Rows go in exactly as the store stage writes them (documents, completed extractions with their
`fields`, clause rows), so the generated columns and indexes of migration 0007 fill themselves.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from charmelio.contract import CUAD_CATEGORIES, ObjectKeys

GOVERNING_LAWS = (
    "New York",
    "Delaware",
    "California",
    "England and Wales",
    "the State of Texas",
    "Ontario, Canada",
    None,
)
_COMPANIES = (
    "Acme Corporation", "Globex Inc.", "Initech LLC", "Umbrella Holdings", "Stark Industries",
    "Wayne Enterprises", "Tyrell Corp", "Cyberdyne Systems", "Soylent Foods", "Hooli Ltd",
    "O'Reilly & Sons", "Müller GmbH", "100% Pure_Co",
)  # fmt: skip
_VOCABULARY = (
    "agreement party parties shall term terminate notice days written consent assign license "
    "exclusive territory product services fees payment confidential information liability "
    "damages indemnify warranty insurance audit records renewal period effective date "
    "control merger acquisition successor affiliate competitor solicit employee customer"
)
_WORDS = tuple(_VOCABULARY.split())
_PHRASES = {
    "Change of Control": "in the event of a change of control of either party",
    "Renewal Term": "this agreement shall automatically renew for successive one-year terms",
    "Notice Period to Terminate Renewal": "unless either party gives sixty days written notice",
    "Governing Law": "governed by and construed in accordance with the laws of",
    "Anti-Assignment": "may not assign this agreement without the prior written consent",
    "Non-Compete": "shall not compete directly or indirectly within the territory",
}
# Cells a spreadsheet would take for formulas, and a quote over Excel's cell limit.
HOSTILE_QUOTES = ('=HYPERLINK("http://x","click")', "+1-555-0100 ext", "-2 points", "@SUM(A1)")


@dataclass
class SeededPortfolio:
    extraction_ids: list[str] = field(default_factory=list)
    clause_rows: int = 0


def _quote(rng: random.Random, category: str) -> str:
    words = rng.choices(_WORDS, k=rng.randint(8, 40))
    phrase = _PHRASES.get(category)
    if phrase:
        words.insert(rng.randint(0, len(words)), phrase)
    return " ".join(words).capitalize() + "."


def seed_portfolio(
    database_url: str,
    *,
    contracts: int,
    clauses_per_contract: int,
    seed: int = 13,
    long_quote_every: int = 0,
    hostile_every: int = 0,
) -> SeededPortfolio:
    """Insert `contracts` completed extractions with `clauses_per_contract` findings each."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, reproducible on purpose
    out = SeededPortfolio()
    start = datetime(2024, 1, 1, tzinfo=UTC)
    documents: list[tuple[Any, ...]] = []
    extractions: list[tuple[Any, ...]] = []
    clauses: list[tuple[Any, ...]] = []
    for number in range(contracts):
        document_id = f"doc_{number:024x}"
        extraction_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        out.extraction_ids.append(extraction_id)
        parties = [
            {"name": name, "role": rng.choice(("Licensor", "Licensee", "Supplier", None))}
            for name in rng.sample(_COMPANIES, rng.randint(1, 3))
        ]
        effective = date(2010, 1, 1) + timedelta(days=rng.randint(0, 5000))
        fields = {
            "parties": parties,
            "effective_date": effective.isoformat() if rng.random() < 0.85 else None,
            "termination_date": (effective + timedelta(days=rng.randint(365, 3650))).isoformat()
            if rng.random() < 0.6
            else None,
            "term_length": rng.choice(("one year", "three years", "five years", None)),
            "governing_law": rng.choice(GOVERNING_LAWS),
            "summary": "",
            "confidence": 0.8,
        }
        # A few contracts finish at the same instant: the cursors must break ties.
        finished = start + timedelta(seconds=number - number % 3)
        documents.append(
            (document_id, f"{number:064x}", f"CONTRACT_{number:05d}.pdf", 1000,
             ObjectKeys.document_pdf(document_id), 10)
        )  # fmt: skip
        categories = rng.choices(CUAD_CATEGORIES[:24], k=clauses_per_contract)
        extractions.append(
            (extraction_id, document_id, f"extraction-{document_id}", "completed", "rules",
             "synthetic", len(categories), Jsonb(fields), finished, finished)
        )  # fmt: skip
        for ordinal, category in enumerate(categories, start=1):
            quote = _quote(rng, category)
            if hostile_every and (number * clauses_per_contract + ordinal) % hostile_every == 0:
                quote = rng.choice(HOSTILE_QUOTES)
            if (
                long_quote_every
                and (number * clauses_per_contract + ordinal) % long_quote_every == 0
            ):
                quote = ("A very long clause " * 2500).strip()
            offset = rng.randint(0, 40_000)
            clauses.append(
                (extraction_id, ordinal, category, quote, rng.randint(1, 10),
                 round(rng.uniform(0.3, 1.0), 3), offset, offset + len(quote))
            )  # fmt: skip
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY documents (id, sha256, filename, size_bytes, object_key, page_count) FROM STDIN"
        ) as copy:
            for row in documents:
                copy.write_row(row)
        with cur.copy(
            "COPY extractions (id, document_id, workflow_id, status, provider, model,"
            " clause_count, fields, created_at, finished_at) FROM STDIN"
        ) as copy:
            for row in extractions:
                copy.write_row(row)
        with cur.copy(
            "COPY clauses (extraction_id, ordinal, category, quote, page, confidence,"
            " start_offset, end_offset) FROM STDIN"
        ) as copy:
            for row in clauses:
                copy.write_row(row)
        cur.execute("ANALYZE documents")
        cur.execute("ANALYZE extractions")
        cur.execute("ANALYZE clauses")
    out.clause_rows = len(clauses)
    return out
