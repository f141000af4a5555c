"""Schemathesis against the API's own OpenAPI schema, over HTTP, on the real stack.

Every operation gets generated requests, valid ones and invalid ones; every answer must be free of
5xx, have a status the schema declares, and a body and content type that conform to it (all of
Schemathesis' checks). The stack is real: a generated request that names a real document really
starts its workflow.

The operations are driven through Hypothesis directly: Schemathesis' lazy pytest loader (needed
for a schema served by a fixture) does not run under pytest 9.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CheckContext, positive_data_acceptance

from tests.api.conftest import ApiStack

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 100


Check = Callable[[CheckContext, Any, "schemathesis.Case[Any]"], bool | None]


def excluded_checks(case: schemathesis.Case[Any]) -> list[Check]:
    """Where "the schema allows it" and "the server accepts it" differ by design.

    A schema cannot say that a file starts with %PDF- (a generated file is refused with 415
    `not_a_pdf`), nor that a cursor must be one the server issued (400 `invalid_cursor`).
    """
    label = case.operation.label
    paged = ("GET /api/extractions", "GET /api/contracts", "GET /api/clauses")
    if label == "POST /api/documents" or (label in paged and "cursor" in (case.query or {})):
        return [positive_data_acceptance]
    return []


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_every_operation_answers_as_its_schema_says(
    api_stack: ApiStack, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_url(f"{api_stack.url}/openapi.json")
    failures: list[str] = []
    tested: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def conforms(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate(timeout=60, excluded_checks=excluded_checks(case))

        try:
            conforms()
        except Unsatisfiable:
            # Nothing in this operation can be invalid (no parameters, or free-form strings only).
            assert mode is GenerationMode.NEGATIVE, operation.label
            continue
        except Exception as failure:  # every operation runs; all failures are reported together
            failures.append(f"{operation.label}:\n{failure}")
        tested.append(operation.label)
    assert not failures, "\n\n".join(failures)
    # Positive: every operation (15 under /api, /health and /ready). Negative: the 10 whose
    # parameters or bodies have constraints to break.
    expected = 17 if mode is GenerationMode.POSITIVE else 10
    assert len(tested) == expected, tested
