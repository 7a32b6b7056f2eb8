"""The hand-written list of ineligible choices in manifest.json is what json.dumps writes."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from jiaowei.admissions import proof

TEXT = st.text(st.characters(codec="utf-8"), min_size=1, max_size=10)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(TEXT, TEXT), max_size=30), TEXT)
def test_ineligible_pairs_are_written_as_json_dumps_would(pairs, title):
    expected = json.dumps({"a": 1, "ineligible": [list(p) for p in pairs], "title": title},
                          ensure_ascii=False, sort_keys=True, indent=1)
    marker = json.dumps({"a": 1, "ineligible": "\0X", "title": title},
                        ensure_ascii=False, sort_keys=True, indent=1)
    assert marker.replace('"\\u0000X"', proof._pairs_json(tuple(pairs)), 1) == expected
