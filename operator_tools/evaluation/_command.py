"""``charmelio eval``: load the folder, run the chosen provider, print the scores."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Literal

from charmelio.settings import ConfigurationError, Settings
from operator_tools.evaluation._cuad import (
    DatasetError,
    TrainingSplit,
    is_training_file,
    load_folder,
    read_training_split,
)
from operator_tools.evaluation._report import as_json as report_json
from operator_tools.evaluation._report import render
from operator_tools.evaluation._run import ContractScore, PageSource, evaluate


def run_evaluation(
    settings: Settings,
    folder: Path,
    *,
    provider: Literal["auto", "rules", "openai"] | None = None,
    split: TrainingSplit = "held-out",
    as_json: bool = False,
) -> int:
    """Exit status 0 when every contract was extracted, 1 when some failed, 2 for a bad folder.

    `folder` is a CUAD-format folder (PDFs and labels), or the training file
    (``cuad-train.jsonl.gz``), one of whose splits (held-out unless told) is then scored from
    CUAD's text. Tuning uses ``fit`` and ``validation``; ``held-out`` is only ever reported.
    """
    from llm_worker.activities import extractor_for

    if provider is not None:
        settings = settings.model_copy(update={"llm_provider": provider})
    if settings.effective_llm_provider == "openai" and not settings.openai_base_url:
        raise ConfigurationError("--provider openai needs CHARMELIO_OPENAI_BASE_URL")
    try:
        import parse_worker.reading  # noqa: F401  (the parse stage's engine reads the PDFs)
    except ImportError as exc:
        print(
            f"charmelio eval: the parse stage's PDF engine is not installed ({exc.name}); "
            "pip install 'charmelio[parse,llm]'",
            file=sys.stderr,
        )
        return 2
    source: PageSource = "pdf"
    try:
        if is_training_file(folder):
            # The training file has no PDFs: its contracts are read from CUAD's text.
            contracts, source = read_training_split(folder, split), "text"
        else:
            contracts = load_folder(folder)
    except DatasetError as exc:
        print(f"charmelio eval: {exc}", file=sys.stderr)
        return 2
    extractor = extractor_for(settings)

    def progress(score: ContractScore) -> None:
        state = f"FAILED ({score.error})" if score.error else f"{score.extract_seconds:.3f} s"
        print(f"  {score.slug[:70]:<70} {score.pages:>4} pages  {state}", file=sys.stderr)

    print(
        f"evaluating {len(contracts)} contracts from {folder} with {extractor.name}/"
        f"{extractor.model} ...",
        file=sys.stderr,
    )
    report = evaluate(
        contracts,
        extractor,
        source=source,
        settings=settings,
        on_contract=progress,
    )
    print(json.dumps(report_json(report), indent=2) if as_json else render(report))
    return 1 if report.errors else 0
