"""What the portfolio tests share: a real extraction of a CUAD contract on the package's stack,
and an API process of its own over a synthetic portfolio (so the other API tests' listings never
see the synthetic rows)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._portfolio_data import SeededPortfolio, seed_portfolio
from operator_tools.devstack import free_port
from tests.api.conftest import ApiStack, fresh_database
from tests.conftest import CUAD_PDFS

# No other API test uploads this one, so its extraction is never superseded under our feet.
EVIDENCE_CONTRACT = (
    CUAD_PDFS / "SteelVaultCorp_20081224_10_K_EX_10_16_3074935_EX_10_16_Affiliate_Agreement.pdf"
)


def extracted(api: ApiStack, path: Path = EVIDENCE_CONTRACT) -> dict[str, Any]:
    """The contract's completed extraction: the current one, or a new one."""
    with path.open("rb") as handle:
        uploaded = api.post(
            "/api/documents", files={"file": (path.name, handle, "application/pdf")}
        ).json()
    current = uploaded["document"]["current_extraction"]
    if current is None or current["status"] != "completed":
        started = api.post(
            "/api/extractions", json={"document_id": uploaded["document"]["document_id"]}
        ).json()
        body = api.wait_until_finished(f"/api/extractions/{started['job_id']}")
        assert body["status"] == "completed", body
        current = body
    extraction: dict[str, Any] = api.get(f"/api/extractions/{current['extraction_id']}").json()
    assert extraction["status"] == "completed"
    return extraction


@dataclass
class SyntheticApi:
    url: str
    database_url: str
    seeded: SeededPortfolio


@contextmanager
def synthetic_portfolio_api(
    api: ApiStack, admin_url: str, *, contracts: int, clauses_per_contract: int
) -> Iterator[SyntheticApi]:
    with fresh_database(admin_url) as database_url:
        seeded = seed_portfolio(
            database_url,
            contracts=contracts,
            clauses_per_contract=clauses_per_contract,
            hostile_every=7,
            long_quote_every=97,
        )
        process = api.stack.start_api(
            7, port=free_port(), extra_env={"CHARMELIO_DATABASE_URL": database_url}
        )
        try:
            assert process.url is not None
            yield SyntheticApi(process.url, database_url, seeded)
        finally:
            api.stack.stop_worker(process)
