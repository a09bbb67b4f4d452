"""The in-process moving window: at most N hits in any window, refusals uncounted, no threads."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog_ingest.api.limits import MovingWindow, RetailerLimiter
from catalog_ingest.errors import Throttled

gaps = st.lists(st.sampled_from([0.0, 0.001, 0.05, 0.2, 0.5, 0.999, 1.0, 1.5]), max_size=80)


@given(amount=st.integers(1, 12), steps=gaps)
def test_accepted_hits_never_exceed_the_amount_in_any_window(amount: int,
                                                              steps: list[float]) -> None:
    window = MovingWindow(amount, 1.0)
    now = 100.0
    accepted: list[float] = []
    for step in steps:
        now += step
        in_window = [t for t in accepted if t > now - 1.0]
        wait = window.hit("r", now)
        # The model: a hit is taken exactly when fewer than `amount` taken hits are within the
        # window ending now; a refused one is not counted, and says when a slot frees.
        if len(in_window) < amount:
            assert wait is None
            accepted.append(now)
        else:
            assert wait is not None
            assert 0 < wait <= 1.0
            assert abs((min(in_window) + 1.0 - now) - wait) < 1e-9


def test_retailers_are_counted_apart() -> None:
    window = MovingWindow(2, 1.0)
    assert window.hit("a", 5.0) is None
    assert window.hit("a", 5.1) is None
    assert window.hit("a", 5.2) is not None
    assert window.hit("b", 5.2) is None


def test_the_local_limiter_throttles_with_a_retry_after_and_starts_no_thread(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # limits' MemoryStorage started an expiry timer thread every 10 ms while hits arrived; on
    # the event loop each start waited for the new thread to take the GIL.
    started: list[threading.Thread] = []
    original = threading.Thread.start

    def start(self: threading.Thread) -> None:
        started.append(self)
        original(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    limiter = RetailerLimiter("10/second")
    for _ in range(10):
        limiter.check("retailer")
    try:
        limiter.check("retailer")
    except Throttled as exc:
        assert exc.retry_after == 1
    else:
        raise AssertionError("the eleventh request in a second was not throttled")
    assert started == []
