"""The offline rules extractor on real CUAD contracts, checked against CUAD's own labels."""

from __future__ import annotations

import pytest

from charmelio.contract import CUAD_CATEGORIES, ParsedPages
from llm_worker import RulesExtractor
from llm_worker._evidence import normalise, verify_evidence
from tests.llm.cuad_pages import (
    CONSULTING,
    LICENSE,
    SAMPLE,
    contract_pages,
    load_contract,
)

CONTRACTS = (SAMPLE, CONSULTING, LICENSE)


def _page_text(pages: ParsedPages, number: int) -> str:
    return next(page.text for page in pages.pages if page.page == number)


def test_pseudo_pages_reproduce_the_cuad_text() -> None:
    pages = contract_pages(SAMPLE)
    assert len(pages.pages) > 3
    assert pages.full_text() == load_contract(SAMPLE)["text"]


@pytest.mark.parametrize("slug", CONTRACTS)
def test_finds_the_governing_law_cuad_answers(slug: str) -> None:
    answer = load_contract(slug)["answers"]["Governing Law"]
    assert answer, "pick contracts that have a governing-law clause"

    output = RulesExtractor().extract(contract_pages(slug))

    assert output.governing_law == answer
    quotes = [f.quote for f in output.findings if f.category == "Governing Law"]
    labels = {normalise(label) for label in load_contract(slug)["labels"]["Governing Law"]}
    assert any(normalise(quote) in labels for quote in quotes)


def test_sample_parties_dates_and_topics() -> None:
    output = RulesExtractor().extract(contract_pages(SAMPLE))

    assert [p.name for p in output.parties] == [
        "Florida Chemical Company, LLC",
        "Flotek Chemistry, LLC",
    ]
    # "entered into as of February 28, 2019", no Effective Date anywhere, but 'The "Term" shall
    # begin on the date hereof': the agreement's date is when it takes effect (CUAD: 2/28/19).
    assert str(output.effective_date) == "2019-02-28"
    assert str(output.termination_date) == "2023-12-31"
    by_category = {f.category: f.quote for f in output.findings}
    assert by_category["Document Name"] == "SUPPLY AGREEMENT"
    assert by_category["Agreement Date"] == "February 28, 2019"
    assert {"FCC", "Flotek"} <= {f.quote for f in output.findings if f.category == "Parties"}
    assignment = [f.quote for f in output.findings if f.category == "Anti-Assignment"]
    assert any(q.startswith("FCC may not assign or delegate") for q in assignment)
    assert {"termination", "payment_terms"} <= set(output.topics)
    assert output.topics["payment_terms"].summary.startswith("Payment terms")


def test_parties_with_roles() -> None:
    output = RulesExtractor().extract(contract_pages(CONSULTING))

    assert [(p.name, p.role) for p in output.parties] == [
        ("Gunston Consulting, LLC", "CONSULTANT"),
        ("Medalist Diversified REIT, Inc.", None),
    ]


@pytest.mark.parametrize("slug", CONTRACTS)
def test_every_quote_is_verbatim_on_its_page(slug: str) -> None:
    pages = contract_pages(slug)
    output = RulesExtractor().extract(pages)

    assert output.findings
    for finding in output.findings:
        assert finding.category in CUAD_CATEGORIES
        assert finding.page is not None
        assert finding.quote in _page_text(pages, finding.page), finding
    for topic in output.topics.values():
        assert topic.page is not None
        assert topic.quote in _page_text(pages, topic.page)

    evidence = verify_evidence(pages, output)
    assert evidence.quotes_dropped == 0
    text = pages.full_text()
    for verified in evidence.findings:
        assert verified.start is not None
        assert verified.end is not None
        assert text[verified.start : verified.end] == verified.quote
        assert verified.quote in _page_text(pages, verified.page)


def test_output_is_deterministic() -> None:
    pages = contract_pages(LICENSE)
    first, second = RulesExtractor().extract(pages), RulesExtractor().extract(pages)

    assert first == second


def test_rules_precision_on_the_sample_is_reasonable() -> None:
    """Most findings overlap a CUAD label of their category (by word overlap, as CUAD scores)."""
    contract = load_contract(SAMPLE)
    output = RulesExtractor().extract(contract_pages(SAMPLE))

    def words(text: str) -> set[str]:
        return set(normalise(text).replace(",", " ").replace(".", " ").split())

    def matches(quote: str, category: str) -> bool:
        spans = [s for label in contract["labels"][category] for s in label.split("<omitted>")]
        return any(
            len(words(quote) & words(span)) / len(words(quote) | words(span)) >= 0.5
            or words(span) <= words(quote)
            for span in spans
        )

    hits = [f for f in output.findings if matches(f.quote, f.category)]
    assert len(hits) / len(output.findings) >= 0.6


def test_empty_document_gives_an_empty_extraction() -> None:
    pages = ParsedPages.model_validate(
        {"document_id": "empty", "engine": "test", "pages": [{"page": 1, "text": ""}]}
    )

    output = RulesExtractor().extract(pages)

    assert output.findings == []
    assert output.parties == []
    assert output.topics == {}
    assert output.confidence == 0.0


def test_the_shipped_model_is_small_attributed_and_complete() -> None:
    from importlib import resources

    from llm_worker._clause_model import MODEL_FILE, load_clause_model

    models = resources.files("llm_worker").joinpath("models")
    artifact = models.joinpath(MODEL_FILE)
    assert len(artifact.read_bytes()) < 20 * 1024 * 1024
    notice = models.joinpath("README.md").read_text("utf-8")
    assert "CC BY 4.0" in notice
    assert "The Atticus Project" in notice
    model = load_clause_model()
    assert set(model.categories) == set(CUAD_CATEGORIES)
    assert set(model.policies) == set(CUAD_CATEGORIES)
    assert model.version.startswith("cuad-lr-")
    probabilities = model.probabilities(
        "This Agreement shall be governed by the laws of the State of New York."
    )
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    assert model.categories[best] == "Governing Law"


def test_a_model_file_of_another_format_or_vocabulary_is_refused() -> None:
    from llm_worker._clause_model import FORMAT_VERSION, ClauseModel

    body = {"version": "x", "categories": ["Insurance"], "bias": {"Insurance": 0.0}}
    with pytest.raises(ValueError, match="format"):
        ClauseModel({"format": 99, **body, "weights": {}, "policies": {}})
    with pytest.raises(ValueError, match="unknown categories"):
        ClauseModel(
            {
                "format": FORMAT_VERSION,
                **body,
                "categories": ["Insurance", "Vibes"],
                "weights": {},
                "policies": {},
            }
        )


def test_without_the_model_the_rules_still_extract() -> None:
    pages = contract_pages(SAMPLE)

    output = RulesExtractor(model=None).extract(pages)

    assert RulesExtractor(model=None).model == "rules-v3"
    assert {f.category for f in output.findings} >= {"Governing Law", "Anti-Assignment"}
