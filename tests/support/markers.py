"""Markers shared by test modules that must not run at the same time on two xdist workers."""

from __future__ import annotations

import pytest

#: Tests that build this checkout with pip (`pip install <root>`, `package-lambda`): setuptools
#: builds in the checkout's own `build/` folder, so two at once collide there ("File exists:
#: build/bdist.linux-x86_64/wheel/catalog_ingest-0.1.0.dist-info", seen in CI).
BUILDS_THE_CHECKOUT = pytest.mark.xdist_group("builds-the-checkout")
