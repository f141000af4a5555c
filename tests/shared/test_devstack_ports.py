"""The embedded stack never hands out one port twice, nor the Temporal frontend's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from charmelio.settings import Settings
from operator_tools import devstack
from operator_tools.devstack import DevStack


def test_a_port_the_probe_returns_again_is_not_given_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the OS may do: the probe's port is released at once and can come back next time.
    answers: Iterator[int] = iter([41000, 41001, 41001, 41000, 41002])
    monkeypatch.setattr(devstack, "free_port", lambda: next(answers))
    stack = DevStack(Settings(_env_file=None, data_dir=tmp_path), temporal_port=41000)

    assert [stack._new_port(), stack._new_port()] == [41001, 41002]
