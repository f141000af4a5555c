"""Extraction quality as a number: CUAD-format contracts through the real parse and extraction code.

``charmelio eval [FOLDER]`` prints per-category precision, recall and F1 under CUAD's matching rule,
micro and macro F1, clause-presence accuracy, field accuracy (parties, dates, governing law), the
share of claimed quotes found in the document, and seconds per contract.
"""

from operator_tools.evaluation._command import run_evaluation
from operator_tools.evaluation._cuad import (
    TRAINING_FILE_SPLITS,
    CuadContract,
    DatasetError,
    contract_from_record,
    load_folder,
    read_training_file,
    read_training_split,
)
from operator_tools.evaluation._matching import Counts, is_match, jaccard, score_spans, words
from operator_tools.evaluation._report import as_json, render
from operator_tools.evaluation._run import (
    ContractScore,
    EvaluationReport,
    evaluate,
    pages_from_pdf,
    pages_from_text,
    score_contract,
)

__all__ = [
    "TRAINING_FILE_SPLITS",
    "ContractScore",
    "Counts",
    "CuadContract",
    "DatasetError",
    "EvaluationReport",
    "as_json",
    "contract_from_record",
    "evaluate",
    "is_match",
    "jaccard",
    "load_folder",
    "pages_from_pdf",
    "pages_from_text",
    "read_training_file",
    "read_training_split",
    "render",
    "run_evaluation",
    "score_contract",
    "score_spans",
    "words",
]
