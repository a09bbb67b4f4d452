"""A report's itemResults bytes are those of each result's `to_dict`, however they are encoded."""

from __future__ import annotations

import json

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from catalog_ingest.domain.issues import Issue
from catalog_ingest.engine.planner import ItemResult
from catalog_ingest.engine.reports import build_report, encode_results

text = st.text(max_size=12)
issues = st.builds(Issue, st.sampled_from(["ERROR", "WARNING"]), text, st.none() | text, text,
                   st.none() | text | st.integers(-10**6, 10**6))
results = st.builds(ItemResult, st.integers(0, 10_000), text, st.none() | text,
                    st.sampled_from(["ACCEPTED", "REJECTED"]),
                    st.none() | st.sampled_from(["CREATED", "UPDATED", "UNCHANGED"]),
                    st.lists(issues, max_size=3))


@given(st.lists(results, max_size=20))
def test_encoded_results_are_the_bytes_of_their_dicts(found: list[ItemResult]) -> None:
    expected = msgspec.json.encode([r.to_dict() for r in found])
    assert bytes(encode_results(found)) == expected
    assert json.loads(bytes(encode_results(found))) == [r.to_dict() for r in found]


def test_a_report_embeds_the_pre_encoded_results_unchanged() -> None:
    found = [ItemResult(0, "A", "s1", "ACCEPTED", "UNCHANGED", []),
             ItemResult(1, "B", "s1", "REJECTED", None,
                        [Issue("ERROR", "INVALID_PRICE", "standard_price", "bad", "x")])]
    kwargs = {"ingestion_id": "i", "status": "DONE", "submitted_at": 1.0, "started_at": 2.0,
              "completed_at": 3.0, "summary": {"itemsReceived": 2}}
    body = build_report(results=encode_results(found), **kwargs)  # type: ignore[arg-type]
    assert body == build_report(results=found, **kwargs)  # type: ignore[arg-type]
    assert json.loads(body)["itemResults"] == [r.to_dict() for r in found]
