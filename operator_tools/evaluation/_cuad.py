"""CUAD-format contracts: a labels JSON per contract, with its PDF beside it or in ``pdfs/``.

The layout is that of the CUAD development set shipped in ``tests/fixtures/cuad``::

    contracts/<slug>.json   title, text, labels {category: [span, ...]}, answers {category: ...}
    pdfs/<slug>.pdf         the contract as filed (or named by the JSON's "pdf_file")

A label may join several passages with ``<omitted>``; each passage is scored as its own span, as
in CUAD's question-answering release where every answer is one contiguous passage.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from charmelio.contract import CUAD_CATEGORIES

OMITTED = "<omitted>"


class DatasetError(ValueError):
    """The folder or file is not in CUAD format (with the path and what is wrong)."""


@dataclass(frozen=True)
class CuadContract:
    slug: str
    title: str
    text: str
    spans: Mapping[str, tuple[str, ...]]
    """Labelled passages per CUAD category (empty when the clause is absent)."""
    answers: Mapping[str, str] = field(default_factory=dict)
    pdf_path: Path | None = None

    def present(self, category: str) -> bool:
        return bool(self.spans.get(category))


def _spans(labels: Mapping[str, Any], where: str) -> dict[str, tuple[str, ...]]:
    spans: dict[str, tuple[str, ...]] = {}
    for category in CUAD_CATEGORIES:
        values = labels.get(category, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise DatasetError(f"{where}: labels[{category!r}] is not a list of strings")
        pieces = (piece.strip() for value in values for piece in value.split(OMITTED))
        spans[category] = tuple(piece for piece in pieces if piece)
    return spans


def contract_from_record(
    record: Mapping[str, Any], slug: str, pdf_path: Path | None = None
) -> CuadContract:
    """One contract from a CUAD record (a ``contracts/*.json`` file or a training-file line)."""
    labels = record.get("labels")
    if not isinstance(labels, dict):
        raise DatasetError(f"{slug}: no 'labels' object")
    answers = record.get("answers") or {}
    return CuadContract(
        slug=slug,
        title=str(record.get("title") or slug),
        text=str(record.get("text") or ""),
        spans=_spans(labels, slug),
        answers={str(k): str(v) for k, v in answers.items()} if isinstance(answers, dict) else {},
        pdf_path=pdf_path,
    )


def _pdf_for(folder: Path, json_path: Path, record: Mapping[str, Any]) -> Path:
    candidates: list[Path] = []
    if isinstance(record.get("pdf_file"), str):
        candidates.append(folder / str(record["pdf_file"]))
    candidates += [folder / "pdfs" / f"{json_path.stem}.pdf", json_path.with_suffix(".pdf")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DatasetError(f"{json_path}: no PDF found (looked for {', '.join(map(str, candidates))})")


def load_folder(folder: Path) -> list[CuadContract]:
    """Every contract of a CUAD-format folder with its PDF, sorted by slug."""
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder")
    label_dir = folder / "contracts" if (folder / "contracts").is_dir() else folder
    json_files = sorted(p for p in label_dir.glob("*.json") if p.name != "categories.json")
    if not json_files:
        raise DatasetError(f"{folder}: no contract labels (*.json) in {label_dir}")
    contracts = []
    for path in json_files:
        try:
            record = json.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DatasetError(f"{path}: unreadable ({exc})") from None
        if not isinstance(record, dict):
            raise DatasetError(f"{path}: not a JSON object")
        contracts.append(contract_from_record(record, path.stem, _pdf_for(folder, path, record)))
    return contracts


TrainingSplit = Literal["fit", "validation", "held-out"]
TRAINING_FILE_SPLITS: dict[TrainingSplit, slice] = {
    "fit": slice(0, 300),
    "validation": slice(300, 395),
    "held-out": slice(395, 455),
}
"""How the training file (``cuad-train.jsonl.gz``, 455 contracts) is split, in file order: the
classifier is fitted on ``fit``, its per-category policies and any rule tuning are chosen on
``validation`` (and ``fit``), and ``held-out`` is only ever scored. The training script and
``charmelio eval FILE.jsonl.gz`` both read it from here, so the held-out contracts are the same
everywhere."""


def is_training_file(path: Path) -> bool:
    return path.is_file() and path.name.endswith((".jsonl", ".jsonl.gz"))


def read_training_split(path: Path, split: str = "held-out") -> list[CuadContract]:
    """One split of the training file (see `TRAINING_FILE_SPLITS`), in file order."""
    if split not in TRAINING_FILE_SPLITS:
        raise DatasetError(f"unknown split {split!r}; one of {', '.join(TRAINING_FILE_SPLITS)}")
    try:
        contracts = list(read_training_file(path))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, EOFError) as exc:
        raise DatasetError(f"{path}: unreadable ({exc})") from None
    wanted = TRAINING_FILE_SPLITS[split]
    if len(contracts) < wanted.stop:
        raise DatasetError(
            f"{path}: has {len(contracts)} contracts; the {split} split needs {wanted.stop}"
        )
    return contracts[wanted]


def read_training_file(path: Path) -> Iterator[CuadContract]:
    """The contracts of a CUAD JSON-lines file (gzip or plain), in file order."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                record = json.loads(line)
                yield contract_from_record(record, str(record.get("title") or f"line-{number}"))
