"""The README is the manual: every setting is in its table; the quick start is two commands."""

from __future__ import annotations

import re

from charmelio.settings import Settings
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_in_the_settings_table() -> None:
    documented = set(re.findall(r"`(CHARMELIO_[A-Z0-9_]+)`", README))
    missing = {f"CHARMELIO_{name.upper()}" for name in Settings.model_fields} - documented
    assert not missing, f"README settings table lacks {sorted(missing)}"


def test_quick_start_is_two_commands_and_ci_runs_the_test_one() -> None:
    quick_start = README.split("## Quick start", 1)[1].split("##", 1)[0]
    block = quick_start.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]
    assert commands == ["./scripts/demo.sh", "./scripts/test.sh"]
    assert "./scripts/test.sh" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
