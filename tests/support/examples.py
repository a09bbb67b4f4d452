"""The repository's `examples/` folder and its sample generator, for the tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def make_samples() -> ModuleType:
    """`examples/make_samples.py` as a module (it is a script, not a package module)."""
    spec = importlib.util.spec_from_file_location("make_samples", EXAMPLES / "make_samples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
