"""The bundled sample contract (a CUAD contract, CC BY 4.0: see LICENSE.md beside it), which the
demo and the load test extract.

A module of its own, not in `charmelio/__init__`, and built without touching the file system (no
`resolve()`): the workflow sandbox may import it on the way to a workflow, and refuses file access.
"""

from pathlib import Path

SAMPLE_CONTRACT = Path(__file__).with_name("supply_agreement.pdf")
