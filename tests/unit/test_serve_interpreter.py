"""`serve` tunes the interpreter: the thread switch interval, start-up objects frozen."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator

import pytest

from catalog_ingest.cli import service
from catalog_ingest.settings import Settings, from_env


@pytest.fixture
def restored() -> Iterator[None]:
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


def test_the_setting_reaches_the_interpreter(restored: None,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CATALOG_INGEST_SWITCH_INTERVAL", "0.002")
    service._switch_interval(from_env().switch_interval)
    assert sys.getswitchinterval() == pytest.approx(0.002)
    service._switch_interval(0)  # 0 leaves the interpreter's own value alone
    assert sys.getswitchinterval() == pytest.approx(0.002)
    assert Settings().switch_interval < 0.005  # shorter than Python's default


def test_serve_freezes_what_start_up_made() -> None:
    assert gc.get_freeze_count() == 0
    service._freeze_startup_objects()
    try:
        assert gc.get_freeze_count() > 1000  # the modules and objects of this process
    finally:
        gc.unfreeze()
