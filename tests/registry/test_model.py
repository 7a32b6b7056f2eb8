"""The path engine and version arithmetic, checked against a naive oracle (no database).

Random trees get random operations (open, move, rename, close) at random effective
dates. An operation that would break the tree on some date must be refused; one that
would not must be accepted. After every accepted operation the open units form a
forest on every date that matters, and each unit's path is its chain of parents.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jiaowei.registry.model import (
    FOREVER,
    Link,
    Segment,
    TreeBroken,
    UnitVersion,
    apply_change,
    close_versions,
    compute_paths,
    merge_segments,
    merge_versions,
    path_upper_bound,
)

BASE = dt.date(2000, 1, 1)
Versions = dict[int, list[UnitVersion]]


def day(n: int) -> dt.date:
    return BASE + dt.timedelta(days=n)


def version(start: dt.date, parent: int | None, name: str = "n", end: dt.date = FOREVER) -> UnitVersion:
    return UnitVersion(start, end, parent, name, name, "primary_school", "public", "education", {})


# ---------------------------------------------------------------- the oracle


def open_on(versions: Sequence[UnitVersion], d: dt.date) -> UnitVersion | None:
    return next((v for v in versions if v.covers(d)), None)


def boundary_dates(versions: Mapping[int, Sequence[UnitVersion]]) -> list[dt.date]:
    """Every date where something starts or ends, and the days either side."""
    edges = {d for vs in versions.values() for v in vs for d in (v.valid_from, v.valid_to) if d != FOREVER}
    return sorted({e + dt.timedelta(days=k) for e in edges for k in (-1, 0, 1)})


def chain(versions: Mapping[int, Sequence[UnitVersion]], unit: int, d: dt.date) -> list[int] | None:
    """Root-first ancestors of ``unit`` on ``d`` (itself last), or None if the tree is broken there."""
    seen: list[int] = []
    current: int | None = unit
    while current is not None:
        v = open_on(versions.get(current, ()), d)
        if v is None or current in seen:
            return None
        seen.append(current)
        current = v.parent_id
    return seen[::-1]


def tree_whole(versions: Mapping[int, Sequence[UnitVersion]]) -> bool:
    return all(
        chain(versions, unit, d) is not None
        for d in boundary_dates(versions)
        for unit, vs in versions.items()
        if open_on(vs, d)
    )


def links(versions: Mapping[int, Sequence[UnitVersion]]) -> dict[int, list[Link]]:
    return {u: [v.link() for v in vs] for u, vs in versions.items()}


def path_on(segments: Sequence[Segment], d: dt.date) -> str | None:
    found = [s.path for s in segments if s.valid_from <= d < s.valid_to]
    assert len(found) <= 1, f"overlapping segments on {d}: {segments}"
    return found[0] if found else None


def check_versions_well_formed(vs: Sequence[UnitVersion]) -> None:
    assert vs, "a unit lost all its versions"
    for a, b in zip(vs, vs[1:], strict=False):
        assert a.valid_to == b.valid_from, f"gap or overlap between {a} and {b}"
        assert (a.parent_id, a.name_zh) != (b.parent_id, b.name_zh), f"unmerged versions {a}, {b}"
    assert all(v.valid_from < v.valid_to for v in vs)


def check_forest(
    versions: Mapping[int, Sequence[UnitVersion]], paths: Mapping[int, Sequence[Segment]]
) -> None:
    """On every relevant date: open units form a forest and paths equal the parent chains."""
    for vs in versions.values():
        check_versions_well_formed(vs)
    for d in boundary_dates(versions):
        today = {}
        for unit, vs in versions.items():
            v = open_on(vs, d)
            if v is None:
                assert path_on(paths[unit], d) is None, f"closed unit {unit} has a path on {d}"
                continue
            assert v.parent_id is None or open_on(versions[v.parent_id], d), (
                f"unit {unit} open on {d} under closed parent {v.parent_id}"
            )
            ancestors = chain(versions, unit, d)
            assert ancestors is not None, f"cycle through {unit} on {d}"
            expected = "/" + "/".join(map(str, ancestors)) + "/"
            assert path_on(paths[unit], d) == expected, (unit, d)
            today[unit] = (expected, ancestors)
        for top, (top_path, _) in today.items():
            by_range = {u for u, (p, _) in today.items() if top_path <= p < path_upper_bound(top_path)}
            by_walk = {u for u, (_, ancestors) in today.items() if top in ancestors}
            assert by_range == by_walk, (top, d)


def ever_below(versions: Mapping[int, Sequence[UnitVersion]], unit: int) -> set[int]:
    found, frontier = {unit}, {unit}
    while frontier:
        frontier = {u for u, vs in versions.items() for v in vs if v.parent_id in frontier} - found
        found |= frontier
    return found


def reindex(
    versions: Mapping[int, Sequence[UnitVersion]], paths: Mapping[int, list[Segment]], changed: int
) -> dict[int, list[Segment]]:
    """What the service does: recompute the changed unit's subtree, anchored on stored paths."""
    ids = ever_below(versions, changed)
    part = {u: [v.link() for v in versions[u]] for u in ids}
    anchors = {
        p: paths.get(p, [])
        for ls in part.values()
        for link in ls
        if (p := link.parent_id) is not None and p not in part
    }
    return {**paths, **compute_paths(part, anchors)}


# ---------------------------------------------------------------- operations


@dataclass(frozen=True)
class Op:
    kind: str  # open | move | rename | close
    unit: int
    on: int
    parent: int | None = None
    name: str = ""

    def apply(self, versions: Versions) -> Versions:
        """The versions after the op; ValueError when the version arithmetic refuses it."""
        out = dict(versions)
        when = day(self.on)
        if self.kind == "open":
            out[self.unit] = [version(when, self.parent, f"u{self.unit}")]
        elif self.kind == "move":
            out[self.unit] = apply_change(versions[self.unit], when, {"parent_id": self.parent})
        elif self.kind == "rename":
            out[self.unit] = apply_change(
                versions[self.unit], when, {"name_zh": self.name, "name_en": self.name}
            )
        else:
            out[self.unit] = close_versions(versions[self.unit], when)
        return out


@st.composite
def trees(draw: st.DrawFn) -> Versions:
    size = draw(st.integers(1, 6))
    versions: Versions = {1: [version(day(0), None, "u1")]}
    for unit in range(2, size + 1):
        parent = draw(st.sampled_from([None, *range(1, unit)]))
        start = versions[parent][0].valid_from if parent else day(0)
        versions[unit] = [version(start + dt.timedelta(days=draw(st.integers(0, 5))), parent, f"u{unit}")]
    return versions


@st.composite
def ops(draw: st.DrawFn, units: Sequence[int]) -> Op:
    kind = draw(st.sampled_from(["open", "move", "move", "rename", "close"]))
    parent = draw(st.sampled_from([None, *units]))
    on = draw(st.integers(0, 20))
    if kind == "open":
        return Op("open", max(units) + 1, on, parent)
    return Op(kind, draw(st.sampled_from(units)), on, parent, draw(st.sampled_from(["a", "b", "c"])))


def run_op(
    versions: Versions, paths: dict[int, list[Segment]], op: Op
) -> tuple[Versions, dict[int, list[Segment]]]:
    """Apply ``op`` as the engine would; return the new state, or the old one if refused."""
    try:
        candidate = op.apply(versions)
    except ValueError:
        return versions, paths
    whole = tree_whole(candidate)
    try:
        full = compute_paths(links(candidate))
    except TreeBroken:
        assert not whole, f"{op} refused though the tree stays whole"
        return versions, paths
    assert whole, f"{op} accepted though it breaks the tree"
    assert reindex(candidate, paths, op.unit) == full, "recomputing the subtree disagrees with the full run"
    return candidate, full


@settings(max_examples=300, deadline=None)
@given(trees(), st.data())
def test_random_operations_keep_a_whole_tree(start: Versions, data: st.DataObject) -> None:
    versions = start
    paths = compute_paths(links(versions))
    check_forest(versions, paths)
    for _ in range(data.draw(st.integers(1, 12), label="operations")):
        op = data.draw(ops(sorted(versions)), label="op")
        versions, paths = run_op(versions, paths, op)
        check_forest(versions, paths)


# ---------------------------------------------------------------- apply_change against its definition


def value_on(versions: Sequence[UnitVersion], d: dt.date, name: str) -> object:
    v = open_on(versions, d)
    return getattr(v, name) if v else None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 3), st.sampled_from("AB"), st.sampled_from([1, 2])), max_size=5),
    st.integers(0, 12),
    st.sampled_from("ABC"),
)
def test_a_change_holds_until_the_next_recorded_change_of_that_field(steps, on, new_name) -> None:
    versions = [version(day(0), 1, "A")]
    at = 0
    for gap, name, parent in steps:  # a history of renames and moves
        at += gap
        versions = apply_change(versions, day(at), {"name_zh": name, "parent_id": parent})
    when = day(on)
    changed = apply_change(versions, when, {"name_zh": new_name})
    before = value_on(versions, when, "name_zh")
    later = [v.valid_from for v in versions if v.valid_from > when and v.name_zh != before]
    until = min(later, default=FOREVER)
    for d in boundary_dates({1: versions}) + [when]:
        expected = new_name if when <= d < until else value_on(versions, d, "name_zh")
        assert value_on(changed, d, "name_zh") == expected, d
        assert value_on(changed, d, "parent_id") == value_on(versions, d, "parent_id"), d


# ---------------------------------------------------------------- examples


def test_apply_change_keeps_a_later_recorded_rename_in_force() -> None:
    versions = [
        version(day(0), 1, "old"),
    ]
    versions = apply_change(versions, day(10), {"name_zh": "later"})
    changed = apply_change(versions, day(5), {"name_zh": "earlier", "parent_id": 2})
    assert [(v.valid_from, v.name_zh, v.parent_id) for v in changed] == [
        (day(0), "old", 1),
        (day(5), "earlier", 2),
        (day(10), "later", 2),
    ]


def test_apply_change_refuses_a_date_the_unit_is_not_open() -> None:
    with pytest.raises(ValueError):
        apply_change([version(day(5), None)], day(1), {"name_zh": "x"})
    with pytest.raises(ValueError):
        apply_change([version(day(0), None, end=day(5))], day(5), {"name_zh": "x"})


def test_close_refuses_when_changes_are_recorded_after() -> None:
    versions = apply_change([version(day(0), None, "a")], day(10), {"name_zh": "b"})
    with pytest.raises(ValueError, match="changes recorded"):
        close_versions(versions, day(5))
    with pytest.raises(ValueError, match="changes recorded"):
        close_versions(versions, day(10))
    assert close_versions(versions, day(11))[-1].valid_to == day(11)


def test_close_refuses_before_opening_and_twice() -> None:
    with pytest.raises(ValueError, match="after it opened"):
        close_versions([version(day(5), None)], day(5))
    closed = close_versions([version(day(0), None)], day(5))
    with pytest.raises(ValueError, match="already closed"):
        close_versions(closed, day(8))


def test_merge_segments_joins_equal_touching_paths_only() -> None:
    segments = [
        Segment(day(5), day(9), "/1/2/"),
        Segment(day(0), day(5), "/1/2/"),
        Segment(day(9), day(12), "/1/3/"),
        Segment(day(13), FOREVER, "/1/3/"),
    ]
    assert merge_segments(segments) == [
        Segment(day(0), day(9), "/1/2/"),
        Segment(day(9), day(12), "/1/3/"),
        Segment(day(13), FOREVER, "/1/3/"),
    ]


def test_merge_versions_joins_equal_touching_versions() -> None:
    a, b = version(day(0), 1, "x", end=day(3)), version(day(3), 1, "x")
    assert merge_versions([a, b]) == [version(day(0), 1, "x")]
    assert merge_versions([a, version(day(3), 2, "x")]) == [a, version(day(3), 2, "x")]


def test_compute_paths_reports_cycles_and_closed_parents() -> None:
    with pytest.raises(TreeBroken) as cycle:
        compute_paths({1: [Link(day(0), FOREVER, 2)], 2: [Link(day(0), FOREVER, 1)]})
    assert cycle.value.reason == "cycle"
    with pytest.raises(TreeBroken) as closed:
        compute_paths({1: [Link(day(0), day(5), None)], 2: [Link(day(0), FOREVER, 1)]})
    assert (closed.value.reason, closed.value.unit_id, closed.value.date) == ("parent-closed", 2, day(5))


def test_a_move_back_and_forth_gives_three_segments() -> None:
    paths = compute_paths(
        {
            1: [Link(day(0), FOREVER, None)],
            2: [Link(day(0), FOREVER, 1)],
            3: [Link(day(0), FOREVER, 1)],
            4: [Link(day(0), day(5), 2), Link(day(5), day(9), 3), Link(day(9), FOREVER, 2)],
        }
    )
    assert paths[4] == [
        Segment(day(0), day(5), "/1/2/4/"),
        Segment(day(5), day(9), "/1/3/4/"),
        Segment(day(9), FOREVER, "/1/2/4/"),
    ]


def test_path_upper_bound_does_not_take_in_siblings_sharing_a_prefix() -> None:
    upper = path_upper_bound("/1/2/")
    assert "/1/2/" <= "/1/2/7/" < upper
    assert not ("/1/2/" <= "/1/23/" < upper)
