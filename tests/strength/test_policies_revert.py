"""The policy documents revert's compensating undos send (quarantine trusts, the earlier inline,
trust and bucket policies put back), linted as IAM would: every inverse's moto case, with the spy."""

from __future__ import annotations

from typing import Any

import pytest

from tests.revert.conftest import Sim, apply_undo, sim  # noqa: F401  (the fixture, for these tests)
from tests.revert.test_inverses import CASES, Case
from tests.strength.test_policies import documents, lint_documents

# A quarantined role gets a deny-all trust; a changed trust or inline policy gets its earlier one back.
SENDS_DOCUMENTS = frozenset({"CreateRole-quarantine", "UpdateAssumeRolePolicy", "PutRolePolicy-before-image"})


def test_the_cases_cover_the_undos_that_write_documents() -> None:
    assert {c.id for c in CASES} >= SENDS_DOCUMENTS


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_document_an_undo_sends_is_well_formed(
    sim: Sim,  # noqa: F811
    case: Case,
    calls: list[tuple[str, dict[str, Any]]],
) -> None:
    record = case.arrange(sim)
    start = len(calls)
    _change, _undo, outcomes = apply_undo(sim, record, **case.options)
    sent = documents(calls, start)
    assert set(outcomes) == {"done"}
    assert lint_documents(sent) == []
    if case.id in SENDS_DOCUMENTS:  # the sweep is not vacuous: these undos write a document
        assert sent, case.id
