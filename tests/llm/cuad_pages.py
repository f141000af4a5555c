"""CUAD contracts as `ParsedPages`, without PDFs: CUAD's text cut into pseudo-pages.

Pages are cut at paragraph breaks ("\n\n", the same string `ParsedPages` joins pages with), so
`full_text()` reproduces CUAD's text exactly and CUAD's label offsets stay meaningful.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from charmelio.contract import ParsedPages
from operator_tools.evaluation._run import pages_from_text
from tests.conftest import FIXTURES

CUAD_CONTRACTS = FIXTURES / "cuad" / "contracts"
SAMPLE = "FLOTEKINDUSTRIESINCCN_05_09_2019_EX_10_1_SUPPLY_AGREEMENT"
LARGEST = "ZogenixInc_20190509_10_Q_EX_10_2_11663313_EX_10_2_Distributor_Agreement"
CONSULTING = "MEDALISTDIVERSIFIEDREIT_INC_05_18_2020_EX_10_1_CONSULTING_AGREEMENT"
LICENSE = "CHANGEPOINTCORP_03_08_2000_EX_10_6_LICENSE_AND_HOSTING_AGREEMENT"


@cache
def load_contract(slug: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CUAD_CONTRACTS / f"{slug}.json").read_text("utf-8"))
    return data


def contract_pages(slug: str, document_id: str = "doc-1") -> ParsedPages:
    """The contract's CUAD text as pseudo-pages, cut as `charmelio eval` cuts it."""
    return pages_from_text(load_contract(slug)["text"], document_id)
