"""`charmelio eval`: CUAD's matching rule, field accuracy, and runs over real PDFs."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from charmelio.contract import CUAD_CATEGORIES
from cli import main
from llm_worker import RulesExtractor
from operator_tools.evaluation import (
    Counts,
    DatasetError,
    evaluate,
    is_match,
    jaccard,
    load_folder,
    render,
    score_spans,
)
from operator_tools.evaluation._cuad import TRAINING_FILE_SPLITS
from operator_tools.evaluation._fields import answer_date, answer_parties, governing_law_correct
from operator_tools.fakes.openai_server import FakeOpenAIServer
from tests.conftest import FIXTURES

CUAD = FIXTURES / "cuad"
SAMPLE = "FLOTEKINDUSTRIESINCCN_05_09_2019_EX_10_1_SUPPLY_AGREEMENT"
CONSULTING = "MEDALISTDIVERSIFIEDREIT_INC_05_18_2020_EX_10_1_CONSULTING_AGREEMENT"


def test_matching_ignores_case_punctuation_and_line_breaks() -> None:
    label = "This Agreement shall be governed by the laws of the State of Delaware."
    from_pdf = "THIS\u00a0AGREEMENT shall be\ngoverned by the laws of the\nState of Delaware"

    assert jaccard(from_pdf, label) == 1.0
    assert is_match(from_pdf, label, "Governing Law")


def test_matching_needs_half_the_words_in_common() -> None:
    label = "one two three four"

    assert is_match("one two three", label, "Insurance")  # 3/4
    assert is_match("one two five six", label, "Insurance") is False  # 2/6
    assert not is_match("one two five", label, "Insurance")  # 2/5
    assert jaccard("", "") == 0.0


def test_parties_also_match_by_containment() -> None:
    quote = "by and between Flotek Chemistry, LLC, a Delaware limited liability company"

    assert is_match(quote, "Flotek Chemistry, LLC", "Parties")
    assert not is_match(quote, "Flotek Chemistry, LLC", "Insurance")


def test_counts_follow_cuad() -> None:
    labels = ["Supplier shall maintain insurance.", "Buyer shall be named additional insured."]
    predictions = [
        "Supplier shall maintain insurance",
        "supplier shall maintain INSURANCE.",  # a second hit on the same label: not a false one
        "Payment is due in thirty days.",
    ]

    counts = score_spans(predictions, labels, "Insurance")

    assert counts == Counts(tp=1, fp=1, fn=1)
    assert (counts.precision, counts.recall, counts.f1) == (0.5, 0.5, 0.5)
    assert score_spans(["anything"], [], "Insurance") == Counts(fp=1)
    assert score_spans([], [], "Insurance").f1 is None


def test_field_answers_are_read_like_cuad_writes_them() -> None:
    assert answer_date("2/28/19") == date(2019, 2, 28)
    assert answer_date("9/23/97") == date(1997, 9, 23)
    assert answer_date("12/31/2023") == date(2023, 12, 31)
    assert answer_date("Perpetual") is None
    assert answer_date("[]/[]/2013") is None
    assert answer_parties(
        'Gunston Consulting, LLC ("CONSULTANT"); Medalist Diversified REIT, Inc. ("REIT", '
        '"Company"); CONSULTANT and Company (collectively the "Parties")'
    ) == ["Gunston Consulting, LLC", "Medalist Diversified REIT, Inc."]
    assert governing_law_correct("State of New York", "New York")
    assert governing_law_correct("Ontario", "Ontario, Canada")
    assert not governing_law_correct("Delaware", "New York")
    assert governing_law_correct(None, "")
    assert not governing_law_correct(None, "Iowa")


def test_the_dev_folder_loads_with_its_pdfs() -> None:
    contracts = load_folder(CUAD)

    assert len(contracts) == 15
    for contract in contracts:
        assert contract.pdf_path is not None
        assert contract.pdf_path.is_file()
        assert set(contract.spans) == set(CUAD_CATEGORIES)
        assert all("<omitted>" not in span for spans in contract.spans.values() for span in spans)


def _folder(tmp_path: Path, *slugs: str) -> Path:
    for slug in slugs:
        (tmp_path / "contracts").mkdir(exist_ok=True)
        (tmp_path / "pdfs").mkdir(exist_ok=True)
        shutil.copy(CUAD / "contracts" / f"{slug}.json", tmp_path / "contracts")
        shutil.copy(CUAD / "pdfs" / f"{slug}.pdf", tmp_path / "pdfs")
    return tmp_path


def test_bad_folders_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a folder"):
        load_folder(tmp_path / "missing")
    with pytest.raises(DatasetError, match="no contract labels"):
        load_folder(tmp_path)
    folder = _folder(tmp_path, SAMPLE)
    (folder / "pdfs" / f"{SAMPLE}.pdf").unlink()
    with pytest.raises(DatasetError, match="no PDF found"):
        load_folder(folder)


def test_evaluating_real_pdfs(tmp_path: Path) -> None:
    contracts = load_folder(_folder(tmp_path, SAMPLE, CONSULTING))

    report = evaluate(contracts, RulesExtractor())

    assert [c.slug for c in report.contracts] == [SAMPLE, CONSULTING]
    assert report.errors == []
    assert report.verified_share == 1.0
    micro = report.micro
    assert micro.tp + micro.fn == sum(len(s) for c in contracts for s in c.spans.values())
    assert micro.f1 is not None
    assert micro.f1 > 0.5
    assert report.field_accuracy("governing_law") == (2, 2)
    text = render(report)
    for line in ("micro F1", "macro F1", "clause presence accuracy", "quotes verified"):
        assert line in text
    assert "Governing Law" in text


def test_a_pdf_that_cannot_be_parsed_counts_as_finding_nothing(tmp_path: Path) -> None:
    folder = _folder(tmp_path, SAMPLE)
    (folder / "pdfs" / f"{SAMPLE}.pdf").write_bytes(b"not a pdf at all")

    report = evaluate(load_folder(folder), RulesExtractor())

    [failed] = report.errors
    assert failed.error is not None
    assert "PDFValidationError" in failed.error
    assert report.micro.tp == 0
    assert report.micro.fn > 0


def test_the_eval_command_prints_scores_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path, SAMPLE)

    assert main(["eval", str(folder), "--provider", "rules"]) == 0
    assert "micro F1" in capsys.readouterr().out
    assert main(["eval", str(folder), "--provider", "rules", "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["contracts"] == 1
    assert scores["quotes_verified"] == 1.0
    assert set(scores["categories"]) == set(CUAD_CATEGORIES)
    assert main(["eval", str(tmp_path / "nowhere")]) == 2


def test_eval_scores_the_chosen_split_of_a_training_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    training_file = tmp_path / "cuad-train.jsonl.gz"
    text = "This Agreement is governed by the laws of the State of Delaware."
    with gzip.open(training_file, "wt", encoding="utf-8") as lines:
        for number in range(TRAINING_FILE_SPLITS["held-out"].stop):
            record = {"title": f"contract-{number}", "text": text, "labels": {}, "answers": {}}
            lines.write(json.dumps(record) + "\n")

    for split, wanted in TRAINING_FILE_SPLITS.items():
        argv = ["eval", str(training_file), "--provider", "rules", "--split", split, "--json"]
        assert main(argv) == 0
        assert json.loads(capsys.readouterr().out)["contracts"] == wanted.stop - wanted.start
    assert main(["eval", str(training_file), "--provider", "rules", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["contracts"] == 60


def test_eval_against_an_openai_compatible_server_reports_its_tokens_and_requests(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fake_openai: FakeOpenAIServer,
) -> None:
    folder = _folder(tmp_path, SAMPLE)
    monkeypatch.setenv("CHARMELIO_OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("CHARMELIO_OPENAI_API_KEY", "sk-test-0123456789abcdef")

    assert main(["eval", str(folder), "--provider", "openai", "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    billed = fake_openai.stats()
    assert billed.requests >= 1
    assert scores["usage"] == {
        "requests": billed.requests,
        "prompt_tokens": billed.prompt_tokens,
        "completion_tokens": billed.completion_tokens,
    }
    [contract] = scores["per_contract"]
    assert contract["usage"] == scores["usage"]

    assert main(["eval", str(folder), "--provider", "openai"]) == 0
    out = capsys.readouterr().out
    assert "provider usage" in out
    assert SAMPLE[:60] in out


def test_the_offline_extractor_reaches_its_quality_bar_on_the_dev_pdfs() -> None:
    """The issue's bar: span-level micro F1 >= 0.55 and presence accuracy >= 0.90; the floor is
    0.65 since the extractor reached 0.689 (issue 14's classifier features and rules)."""
    report = evaluate(load_folder(CUAD), RulesExtractor())

    assert report.errors == []
    assert report.micro.f1 is not None
    assert report.micro.f1 >= 0.65
    assert report.presence_accuracy is not None
    assert report.presence_accuracy >= 0.90
    assert report.verified_share == 1.0
