"""What other rooms may use of the parse stage beside its activity: reading a PDF's pages.

The evaluation reads contracts exactly as the stage does, and the parse benchmark times the same
code; both go through these names, so the stage's modules stay free to change behind them.
`extract_pages` parses in the calling process; `EngineProcess` is the killable engine process the
activity drives (one per activity thread).
"""

from parse_worker._engine_process import EngineProcess
from parse_worker._pdf_text import ParseOptions, ParseStats, extract_pages
from parse_worker._protocol import OcrMode

__all__ = ["EngineProcess", "OcrMode", "ParseOptions", "ParseStats", "extract_pages"]
