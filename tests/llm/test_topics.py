"""Each key clause is the clause its title says: an indemnity is not the limitation of liability,
a definition is not the dispute resolution (issue 14)."""

from __future__ import annotations

from charmelio.contract import PageText, ParsedPages
from llm_worker import RulesExtractor
from llm_worker._clause_rules import is_definition

INDEMNITY = (
    "Pfizer shall indemnify, defend and hold Exact harmless from any claims, losses, damages and "
    "liabilities, including consequential damages, which may exceed the fees paid hereunder."
)
LIMITATION = (
    "In no event shall either party be liable to the other for any indirect, incidental or "
    "consequential damages arising out of this Agreement."
)
DISPUTE_DEFINITION = (
    '"Dispute" means any dispute, controversy or claim arising out of this Agreement, including '
    "one submitted to arbitration or to the courts."
)
ARBITRATION = (
    "Any dispute arising under this Agreement shall be finally settled by binding arbitration "
    "administered under the Rules of the International Chamber of Commerce."
)


def _topics(*sentences: str) -> dict[str, str]:
    pages = ParsedPages(
        document_id="doc",
        engine="test",
        pages=[PageText(page=1, text="\n\n".join(sentences))],
    )
    return {name: topic.quote for name, topic in RulesExtractor().extract(pages).topics.items()}


def test_an_indemnity_is_not_the_limitation_of_liability() -> None:
    assert "limitation_of_liability" not in _topics(INDEMNITY)
    topics = _topics(INDEMNITY, LIMITATION)
    assert topics["limitation_of_liability"] == LIMITATION
    assert topics["indemnification"] == INDEMNITY


def test_a_definition_is_not_the_dispute_resolution_clause() -> None:
    assert "dispute_resolution" not in _topics(DISPUTE_DEFINITION)
    assert _topics(DISPUTE_DEFINITION, ARBITRATION)["dispute_resolution"] == ARBITRATION


def test_definitions_are_recognised_by_their_defined_term() -> None:
    assert is_definition("1.5 \u201cLosses\u201d shall mean all damages, costs and expenses.")
    assert is_definition('As used herein, "Confidential Information" includes all data.')
    assert not is_definition(ARBITRATION)
    assert not is_definition('The arbitration shall be held in "New York" and the award means it.')
