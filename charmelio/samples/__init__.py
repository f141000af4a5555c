"""The bundled sample contract (a CUAD contract, CC BY 4.0: see LICENSE.md beside it), which the
demo and the load test extract.

A module of its own, not in `charmelio/__init__`: the workflow sandbox imports the kernel's package
and may not touch the file system there.
"""

from pathlib import Path

SAMPLE_CONTRACT = Path(__file__).resolve().parent / "supply_agreement.pdf"
