"""The admissions engine: lottery numbers, placement and cutoffs. Pure: plain values in and out.

Lottery (the published algorithm): an applicant's lottery value is SHA-256(``seed`` ‖ UTF-8
``applicant_id``) read as a big-endian integer; ranks 1..n go over all applicants of the case by
ascending value (rank 1 is the best). Equal values cannot happen in practice (it would take a
SHA-256 collision); should they, the applicant id decides, so the order is always total.

Single tie-breaking: that one rank is used at every school and in every round. A school ranks an
applicant by the key (tier, lottery rank), lower first. The tier is
``case.priorities[(school_id, applicant_id)]`` or ``case.default_tier``.

Mechanisms:

* ``deferred-acceptance``: student-proposing deferred acceptance. Every applicant proposes to
  the first school on their list; each school tentatively holds its best applicants by key up to
  its capacity and rejects the rest; the rejected propose to their next choice; repeat until no
  one is rejected with choices left. The result is the applicant-optimal stable matching.
* ``choice-rounds`` (志愿 rounds): in round k every unplaced applicant applies to their k-th
  choice; each school fills its remaining seats from that round's applicants by key; placements
  are final. The k-th choice is positional: an applicant whose k-th choice is ineligible sits
  round k out.

Eligibility: a school with non-empty ``districts`` admits only applicants whose district is
listed. Such a choice is reported in ``Outcome.ineligible`` (in lottery order, then choice
order) and skipped. Each ``School`` row is a program with its own capacity (quota categories
of one school are separate rows); ``program`` is informational.

Multiples:

* ``separate``: ``group_id`` is ignored; every applicant is placed alone.
* ``together`` with ``choice-rounds``: the applicants sharing a ``group_id`` (who must have the
  same choices) form one unit. In round k the unit applies to the k-th choice; at that school it
  ranks by the best key among its members (a sibling priority held by one twin carries the
  group). Walking the round's units in key order, a unit takes seats only if enough remain for
  all its members; a group that does not fit is passed over and the units after it are still
  considered. If any member is ineligible at the school, the whole group skips that choice
  (the ineligible members are reported). In the cutoffs a placed member counts with the group's
  key.
* ``together`` with ``deferred-acceptance`` is refused with a ``ValueError``: with groups that
  need several seats at once a stable matching may not exist, and deferred acceptance can then
  cycle or depend on the order of proposals, so there is no outcome we could publish as "the"
  result. Use ``choice-rounds`` for campaigns that place multiples together.

Performance: the work is done on numpy arrays. Applicants are indexed by lottery rank, so the
key (tier, rank) and the pair (school, key) are single int64 numbers that sort in the right
order, and deferred acceptance runs as rounds of sorted merges. Nothing depends on the order of
the input rows: the index order is the lottery order, and school order only decides the order of
the cutoffs (which follow ``case.schools``).
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from itertools import chain, repeat
from operator import attrgetter

import numpy as np
from numpy.typing import NDArray

from jiaowei.admissions.model import (
    Case,
    Cutoff,
    Mechanism,
    Multiples,
    Outcome,
    Placement,
    School,
    Ticket,
)

ENGINE_VERSION = "jiaowei-engine/1"

IntArray = NDArray[np.int64]

TOGETHER_WITH_DA_REFUSED = (
    "multiples 'together' with mechanism 'deferred-acceptance' is refused: when a group needs several "
    "seats at once a stable matching may not exist, so deferred acceptance has no well-defined result. "
    "Use mechanism 'choice-rounds' to place multiples together, or multiples 'separate'."
)


# ---------------------------------------------------------------------------------------- lottery


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of acyclic objects are made.

    Its generation-2 passes would walk every object of a large case again and again (seconds
    at a million applicants); nothing made here forms a reference cycle.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(frozen=True)
class _Roster:
    """The applicants as given and their lottery order.

    ``ids`` are in input order; ``position[r]`` is input row r's lottery index (rank - 1);
    ``values`` holds the 32-byte values in lottery order, one row each.
    """

    ids: list[str]
    position: IntArray
    values: NDArray[np.uint8]
    seed: bytes
    ranked_top: NDArray[np.uint64]  # leading 64 bits of the values, in lottery order

    @cached_property
    def order(self) -> IntArray:
        """For each lottery index, the input row."""
        order = np.empty_like(self.position)
        order[self.position] = np.arange(self.position.size, dtype=np.int64)
        return order

    @cached_property
    def ranked_ids(self) -> list[str]:
        ids = self.ids
        return [ids[r] for r in self.order.tolist()]

    @cached_property
    def _rows(self) -> dict[str, int]:
        return dict(zip(self.ids, range(len(self.ids)), strict=True))

    @cached_property
    def _positions(self) -> list[int]:
        return self.position.tolist()  # type: ignore[no-any-return]

    def lottery_index(self, applicant_id: str) -> int:
        return self._positions[self._rows[applicant_id]]

    def lottery_indices(self, applicant_ids: list[str]) -> IntArray:
        """Lottery indices of some applicants (-1 for an unknown id).

        Hashes each id again and finds its value among the sorted values, so no dict of a million
        ids is needed; the dict decides only where that fails (unknown id, equal leading bits).
        """
        if not self.ids:
            return np.full(len(applicant_ids), -1, dtype=np.int64)
        seed, sha256 = self.seed, hashlib.sha256
        top = np.fromiter(
            (int.from_bytes(sha256(seed + a.encode("utf-8")).digest()[:8], "big") for a in applicant_ids),
            dtype=np.uint64,
            count=len(applicant_ids),
        )
        found = np.minimum(np.searchsorted(self.ranked_top, top), len(self.ids) - 1)
        rows = self.order[found].tolist()
        ids = self.ids
        indices = [  # the list of positions and the dict of rows are made only on a mismatch
            i if ids[r] == a else self._positions[self._rows[a]] if a in self._rows else -1
            for i, r, a in zip(found.tolist(), rows, applicant_ids, strict=True)
        ]
        return np.array(indices, dtype=np.int64)

    def ticket(self, i: int) -> Ticket:
        return Ticket(rank=i + 1, value=self.values[i].tobytes().hex())

    @cached_property
    def hexes(self) -> str:
        """The 64-hex-digit values in lottery order, one after the other."""
        return self.values.tobytes().hex()

    def hex_matrix(self) -> NDArray[np.uint8]:
        """The values as lowercase hex digits (ASCII), a row of 64 per applicant in lottery order."""
        return _HEX_DIGITS[self.values].view(np.uint8).reshape(len(self.ids), 64)


# byte -> its two lowercase hex digits as ASCII, first digit in the low byte (little-endian)
_HEX_DIGITS = np.array([ord(f"{b:02x}"[0]) | ord(f"{b:02x}"[1]) << 8 for b in range(256)], dtype="<u2")


def lottery_digests(seed: bytes, applicant_ids: list[str]) -> bytes:
    """SHA-256(seed ‖ UTF-8 applicant_id) of every applicant, 32 bytes each, in the order given.

    Pure Python work (it holds the GIL): a caller may run it in a thread beside numpy work and
    hand the result to ``draw_columns``.
    """
    step = 1 << 15  # in slices: a few thousand short-lived objects at a time, not millions
    return b"".join([b"".join(_digests(seed, _utf8(applicant_ids[k : k + step])))
                     for k in range(0, len(applicant_ids), step)])


def _lottery(seed: bytes, applicant_ids: list[str], digests: bytes | None = None) -> _Roster:
    if digests is None:
        digests = lottery_digests(seed, applicant_ids)
    elif len(digests) != 32 * len(applicant_ids):
        raise ValueError("lottery digests do not match the applicants")
    words = np.frombuffer(digests, dtype=">u8").reshape(len(applicant_ids), 4)
    top = words[:, 0].astype(np.uint64)
    order = np.argsort(top, kind="stable")
    ordered_top = top[order]
    if np.any(ordered_top[1:] == ordered_top[:-1]):  # equal leading 64 bits: decide on everything
        order = _total_order([digests[k : k + 32] for k in range(0, len(digests), 32)], applicant_ids)
        ordered_top = top[order]
    values = np.frombuffer(digests, dtype=np.uint8).reshape(len(applicant_ids), 32)[order]
    position = np.empty(len(applicant_ids), dtype=np.int64)
    position[order] = np.arange(len(applicant_ids), dtype=np.int64)
    return _Roster(applicant_ids, position, values, seed, ordered_top)


def _digests(seed: bytes, messages: list[bytes]) -> list[bytes]:
    """SHA-256(seed ‖ m) for each m: copies of one hash state that has taken the seed already."""
    fresh = hashlib.sha256(seed).copy
    digests: list[bytes] = []
    keep = digests.append
    for message in messages:
        h = fresh()
        h.update(message)
        keep(h.digest())
    return digests


def _utf8(strings: list[str]) -> list[bytes]:
    """Each string as UTF-8 bytes: one encode and one split, not one encode per string."""
    parts = "\n".join(strings).encode("utf-8").split(b"\n")
    if len(parts) != len(strings):  # a string holds a line break (or there are none)
        return [a.encode("utf-8") for a in strings]
    return parts


def _total_order(digests: list[bytes], applicant_ids: Sequence[str]) -> IntArray:
    order = sorted(range(len(digests)), key=lambda i: (digests[i], applicant_ids[i]))
    for a, b in zip(order, order[1:], strict=False):
        if applicant_ids[a] == applicant_ids[b]:
            raise ValueError(f"applicant id {applicant_ids[a]!r} appears more than once")
    return np.array(order, dtype=np.int64)


def tickets(seed: bytes, applicant_ids: Iterable[str]) -> dict[str, Ticket]:
    """Every applicant's lottery number: value and rank (1 is the best) over all of them."""
    with no_cyclic_gc():
        roster = _lottery(seed, list(applicant_ids))
        return {a: roster.ticket(i) for i, a in enumerate(roster.ranked_ids)}


class _Tickets(Mapping[str, Ticket]):
    """applicant_id -> Ticket, built on access (a million Ticket objects cost seconds)."""

    def __init__(self, roster: _Roster) -> None:
        self._roster = roster

    def __getitem__(self, applicant_id: str) -> Ticket:
        return self._roster.ticket(self._roster.lottery_index(applicant_id))

    def __iter__(self) -> Iterator[str]:
        return iter(self._roster.ranked_ids)

    def __len__(self) -> int:
        return len(self._roster.ids)

    def __repr__(self) -> str:
        return f"<tickets of {len(self)} applicants>"


class _Placements(Mapping[str, Placement | None]):
    """applicant_id -> Placement or None, built on access from the placement arrays."""

    def __init__(self, roster: _Roster, school_ids: list[str], school: IntArray, column: IntArray) -> None:
        self._roster = roster
        self._school_array, self._column_array = school, column
        self._ids = school_ids
        self._cache: dict[tuple[int, int], Placement] = {}

    @cached_property
    def _school(self) -> list[int]:  # lists for lookups one by one, made on first use
        return self._school_array.tolist()  # type: ignore[no-any-return]

    @cached_property
    def _column(self) -> list[int]:
        return self._column_array.tolist()  # type: ignore[no-any-return]

    def at(self, i: int) -> Placement | None:
        s, c = self._school[i], self._column[i]
        if s < 0:
            return None
        placement = self._cache.get((s, c))
        if placement is None:
            placement = self._cache[(s, c)] = Placement(school_id=self._ids[s], choice_rank=c + 1)
        return placement

    def __getitem__(self, applicant_id: str) -> Placement | None:
        return self.at(self._roster.lottery_index(applicant_id))

    def __iter__(self) -> Iterator[str]:
        return iter(self._roster.ranked_ids)

    def __len__(self) -> int:
        return len(self._roster.ids)

    def __repr__(self) -> str:
        return f"<placements of {len(self)} applicants>"


# ------------------------------------------------------------------------------------ the table


@dataclass
class _Table:
    """The case as arrays, rows in lottery order, columns = choice positions.

    ``school[i, j]``: index of applicant i's j-th choice, -1 when absent or ineligible.
    ``key[i, j]``: tier ordinal * n + i, so (tier, rank) sorts as one integer.
    ``span``: tiers * n; ``school * span + key`` sorts by (school, tier, rank).
    """

    school: IntArray
    key: IntArray
    tiers: list[int]
    span: int
    ineligible: list[tuple[str, str]]


def _school_index(schools: Sequence[School]) -> dict[str, int]:
    index: dict[str, int] = {}
    for s in schools:
        if s.school_id in index:
            raise ValueError(f"school id {s.school_id!r} appears more than once")
        if s.capacity < 0:
            raise ValueError(f"school {s.school_id!r} has a negative capacity ({s.capacity})")
        index[s.school_id] = len(index)
    return index


def _choice_matrix(choices: list[tuple[str, ...]], ids: list[str], index: dict[str, int]) -> IntArray:
    """Schools chosen as indices, one row per applicant (input order), -1 past the list's end."""
    n = len(choices)
    lengths = np.fromiter(map(len, choices), dtype=np.int64, count=n)
    m = int(lengths.max()) if n else 0
    flat = list(chain.from_iterable(choices))
    try:
        codes = np.fromiter(map(index.__getitem__, flat), dtype=np.int64, count=len(flat))
    except KeyError as missing:
        who = next(i for i, c in enumerate(choices) if missing.args[0] in c)
        raise ValueError(f"applicant {ids[who]!r} chose unknown school {missing.args[0]!r}") from None
    matrix = np.full((n, m), -1, dtype=np.int64)
    rows = np.repeat(np.arange(n), lengths)
    starts = np.cumsum(lengths) - lengths
    matrix[rows, np.arange(len(flat)) - np.repeat(starts, lengths)] = codes
    ordered = np.sort(matrix, axis=1)
    repeated = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
    if repeated.any():
        i = int(np.flatnonzero(repeated.any(axis=1))[0])
        raise ValueError(f"applicant {ids[i]!r} lists a school more than once in their choices")
    return matrix


@dataclass(frozen=True)
class Columns:
    """The applicants of a case as columns, in input order: what ``Case.applicants`` says, without an
    object per applicant (case files at a million applicants). Internal: see ``draw_columns``.

    ``choices[r, j]``: the index in ``case.schools`` of row r's (j+1)-th choice, -1 past the end of
    the list; ``districts[home[r]]`` is row r's district; ``group_ids`` None when all are empty.
    """

    ids: list[str]
    choices: IntArray
    districts: list[str]
    home: IntArray
    group_ids: list[str] | None


def _drop_ineligible(
    case: Case, roster: _Roster, matrix: IntArray, columns: Columns | None = None
) -> list[tuple[str, str]]:
    """Mark the choices of schools outside an applicant's district -1; return them (id, school)."""
    restricted = [s for s in case.schools if s.districts]
    if not restricted or matrix.size == 0:
        return []
    districts = {d: k for k, d in enumerate(sorted(set().union(*(s.districts for s in restricted))))}
    allowed = np.ones((len(case.schools), len(districts) + 1), dtype=bool)
    for k, s in enumerate(case.schools):
        if s.districts:
            allowed[k, :] = False
            allowed[k, [districts[d] for d in s.districts]] = True
    if columns is not None:
        names = columns.districts
        lut = np.fromiter(map(districts.get, names, repeat(len(districts))), dtype=np.int64, count=len(names))
        home = lut[columns.home]
    else:
        given = map(attrgetter("district"), case.applicants)
        home = np.fromiter(
            map(districts.get, given, repeat(len(districts))), dtype=np.int64, count=len(roster.ids)
        )
    home = home[roster.order]
    chosen = matrix >= 0
    bad = chosen & ~allowed[np.where(chosen, matrix, 0), home[:, None]]
    rows, cols = np.nonzero(bad)  # row-major: in lottery order, then choice order
    ids, school_ids = roster.ids, [s.school_id for s in case.schools]
    found = zip(roster.order[rows].tolist(), matrix[rows, cols].tolist(), strict=True)
    pairs = [(ids[r], school_ids[k]) for r, k in found]
    matrix[bad] = -1
    return pairs


def _key_matrix(
    case: Case, roster: _Roster, matrix: IntArray, index: dict[str, int]
) -> tuple[IntArray, list[int]]:
    n = matrix.shape[0]
    tiers = sorted({case.default_tier, *case.priorities.values()})
    ordinal = {t: k for k, t in enumerate(tiers)}
    tier = np.full(matrix.shape, ordinal[case.default_tier], dtype=np.int64)
    if case.priorities:
        pairs = list(case.priorities)
        r = roster.lottery_indices([a for _, a in pairs])
        for (school_id, applicant_id), i in zip(pairs, r.tolist(), strict=True):
            if school_id not in index:
                raise ValueError(f"priority names unknown school {school_id!r}")
            if i < 0:
                raise ValueError(f"priority names unknown applicant {applicant_id!r}")
        s = np.fromiter((index[school_id] for school_id, _ in pairs), dtype=np.int64, count=len(pairs))
        v = np.fromiter((ordinal[t] for t in case.priorities.values()), dtype=np.int64, count=len(pairs))
        hit_row, hit_col = np.nonzero(matrix[r] == s[:, None])
        tier[r[hit_row], hit_col] = v[hit_row]
    return tier * n + np.arange(n, dtype=np.int64)[:, None], tiers


def _table(case: Case, roster: _Roster, index: dict[str, int], columns: Columns | None = None) -> _Table:
    if columns is not None:
        matrix = columns.choices[roster.order]
    else:
        choices = list(map(attrgetter("choices"), case.applicants))
        matrix = _choice_matrix(choices, roster.ids, index)[roster.order]
    ineligible = _drop_ineligible(case, roster, matrix, columns)
    key, tiers = _key_matrix(case, roster, matrix, index)
    span = len(tiers) * max(len(roster.ids), 1)
    if (len(case.schools) + 1) * span >= 2**62:
        raise ValueError("case too large for the engine's 64-bit keys")
    return _Table(matrix, key, tiers, span, ineligible)


# -------------------------------------------------------------------------------- the mechanisms


def _within_capacity(school: IntArray, capacity: IntArray) -> NDArray[np.bool_]:
    """For entries sorted by school, True for the first capacity[school] of each school."""
    size = school.size
    if size == 0:
        return np.zeros(0, dtype=bool)
    first = np.empty(size, dtype=bool)
    first[0] = True
    np.not_equal(school[1:], school[:-1], out=first[1:])
    start = np.maximum.accumulate(np.where(first, np.arange(size), 0))
    return (np.arange(size) - start) < capacity[school]


def _next_choice(school: IntArray) -> IntArray:
    """nxt[i, j]: the first column j' >= j with a choice, or m when there is none."""
    n, m = school.shape
    nxt = np.full((n, m + 1), m, dtype=np.int64)
    for j in range(m - 1, -1, -1):
        nxt[:, j] = np.where(school[:, j] >= 0, j, nxt[:, j + 1])
    return nxt


def _hold(held: IntArray, proposals: IntArray, capacity: IntArray, span: int) -> tuple[IntArray, IntArray]:
    """One round at every school: hold the best by (school, key) up to capacity; return (held, rejected).

    Only the schools that received proposals are re-sorted; both inputs and ``held`` are sorted.
    """
    school = proposals // span  # sorted
    distinct = np.empty(school.size, dtype=bool)
    distinct[:1] = True
    np.not_equal(school[1:], school[:-1], out=distinct[1:])
    schools = school[distinct]
    lo, hi = np.searchsorted(held, schools * span), np.searchsorted(held, (schools + 1) * span)
    lengths = hi - lo
    take = np.repeat(lo - (np.cumsum(lengths) - lengths), lengths) + np.arange(int(lengths.sum()))
    pool = np.concatenate((held[take], proposals))
    pool.sort(kind="stable")
    keep = _within_capacity(pool // span, capacity)
    untouched = np.delete(held, take)
    merged = np.concatenate((untouched, pool[keep]))
    merged.sort(kind="stable")  # two sorted runs: a merge
    return merged, pool[~keep]


def _deferred_acceptance(table: _Table, capacity: IntArray, log: list[str]) -> tuple[IntArray, IntArray]:
    n, m = table.school.shape
    nxt = _next_choice(table.school)
    pointer = nxt[:, 0].copy()
    proposers = np.flatnonzero(pointer < m)
    combined = np.where(table.school >= 0, table.school * table.span + table.key, -1)
    held = np.empty(0, dtype=np.int64)
    rounds = 0
    while proposers.size:
        rounds += 1
        proposals = np.sort(combined[proposers, pointer[proposers]])
        held, rejected = _hold(held, proposals, capacity, table.span)
        rejected %= n
        log.append(f"round {rounds}: {proposals.size} proposals, {held.size} held, {rejected.size} rejected")
        pointer[rejected] = nxt[rejected, pointer[rejected] + 1]
        proposers = rejected[pointer[rejected] < m]
    placed_school = np.full(n, -1, dtype=np.int64)
    applicants = held % n
    placed_school[applicants] = held // table.span
    column = np.where(placed_school >= 0, np.minimum(pointer, max(m - 1, 0)), -1)
    return placed_school, column


@dataclass
class _Units:
    """Who applies as one: rep[u] (best-ranked member), members of multi-member units, tables."""

    rep: IntArray
    size: IntArray
    school: IntArray
    key: IntArray
    members: dict[int, list[int]]  # unit -> applicant rows, only for groups of two or more


def _units(case: Case, roster: _Roster, table: _Table, columns: Columns | None = None) -> _Units:
    n = len(roster.ids)
    groups: dict[str, list[int]] = {}
    if case.multiples is Multiples.TOGETHER:
        if columns is not None:
            for r, g in enumerate(columns.group_ids or ()):
                if g:
                    groups.setdefault(g, []).append(r)
        else:
            for r, a in enumerate(case.applicants):
                if a.group_id:
                    groups.setdefault(a.group_id, []).append(r)
    unit_of = np.arange(n, dtype=np.int64)
    multi: list[list[int]] = []
    for group_id in sorted(groups):
        rows = groups[group_id]
        if columns is not None:
            distinct = len({tuple(columns.choices[r].tolist()) for r in rows})
        else:
            distinct = len({case.applicants[r].choices for r in rows})
        if distinct > 1:
            raise ValueError(
                f"group {group_id!r}: members of a group placed together must have the same choices"
            )
        if len(rows) > 1:
            members = sorted(int(roster.position[r]) for r in rows)
            unit_of[members] = members[0]
            multi.append(members)
    rep = np.flatnonzero(unit_of == np.arange(n))
    unit_school, unit_key = table.school[rep].copy(), table.key[rep].copy()
    size = np.ones(rep.size, dtype=np.int64)
    member_map: dict[int, list[int]] = {}
    for members in multi:
        u = int(np.searchsorted(rep, members[0]))
        unit_key[u] = table.key[members].min(axis=0)
        unit_school[u] = np.where((table.school[members] >= 0).all(axis=0), unit_school[u], -1)
        size[u] = len(members)
        member_map[u] = members
    return _Units(rep, size, unit_school, unit_key, member_map)


def _choice_rounds(
    units: _Units, table: _Table, capacity: IntArray, log: list[str]
) -> tuple[IntArray, IntArray]:
    remaining = capacity.copy()
    placed = np.zeros(units.rep.size, dtype=bool)
    unit_school = np.full(units.rep.size, -1, dtype=np.int64)
    unit_column = np.full(units.rep.size, -1, dtype=np.int64)
    for k in range(units.school.shape[1]):
        active = np.flatnonzero(~placed & (units.school[:, k] >= 0))
        combined = units.school[active, k] * table.span + units.key[active, k]
        order = np.argsort(combined, kind="stable")
        active, school = active[order], combined[order] // table.span
        admit, passed = _fill_round(active, school, units.size, remaining)
        admitted = active[admit]
        placed[admitted], unit_school[admitted], unit_column[admitted] = True, school[admit], k
        log.append(
            f"round {k + 1}: {int(units.size[active].sum())} applicants applied, "
            f"{int(units.size[admitted].sum())} admitted, {passed} groups passed over for lack of seats"
        )
    return _spread(units, unit_school), _spread(units, unit_column)


def _fill_round(
    active: IntArray, school: IntArray, size: IntArray, remaining: IntArray
) -> tuple[NDArray[np.bool_], int]:
    """Which of ``active`` (sorted by school, key) are admitted, and how many groups were passed over.

    Lowers ``remaining`` by the seats taken.
    """
    has_group = np.zeros(remaining.size, dtype=bool)
    has_group[school[size[active] > 1]] = True
    simple = ~has_group[school]
    admit = np.zeros(active.size, dtype=bool)
    admit[simple] = _within_capacity(school[simple], remaining)
    passed = 0
    for t in np.flatnonzero(~simple).tolist():  # schools with a group this round: one by one
        s, need = int(school[t]), int(size[active[t]])
        if need <= remaining[s]:
            admit[t] = True
            remaining[s] -= need
        elif need > 1 and remaining[s] > 0:
            passed += 1
    np.subtract.at(remaining, school[admit & simple], 1)
    return admit, passed


def _spread(units: _Units, per_unit: IntArray) -> IntArray:
    out = np.empty(int(units.size.sum()), dtype=np.int64)
    out[units.rep] = per_unit
    for u, members in units.members.items():
        out[members] = per_unit[u]
    return out


# ------------------------------------------------------------------------------------ the result


def _cutoffs(
    case: Case, table: _Table, units: _Units | None, school: IntArray, column: IntArray
) -> tuple[Cutoff, ...]:
    n = school.size
    rows = np.flatnonzero(school >= 0)
    key = table.key if units is None else _spread_keys(units, table, n)
    keys = key[rows, column[rows]]
    count = np.bincount(school[rows], minlength=len(case.schools))
    worst = np.full(len(case.schools), -1, dtype=np.int64)
    np.maximum.at(worst, school[rows], keys)
    out = []
    for k, s in enumerate(case.schools):
        last = int(worst[k])
        tier, rank = (table.tiers[last // n], last % n + 1) if last >= 0 else (None, None)
        out.append(Cutoff(s.school_id, s.capacity, int(count[k]), tier, rank))
    return tuple(out)


def _spread_keys(units: _Units, table: _Table, n: int) -> IntArray:
    """Each applicant's key as their unit was ranked (a group member ranks with the group)."""
    key = table.key.copy()
    for u, members in units.members.items():
        key[members] = units.key[u]
    return key


def draw(case: Case, seed: bytes) -> Outcome:
    """Run the lottery and the case's mechanism; see the module docstring for the rules."""
    if case.mechanism is Mechanism.DEFERRED_ACCEPTANCE and case.multiples is Multiples.TOGETHER:
        raise ValueError(TOGETHER_WITH_DA_REFUSED)
    with no_cyclic_gc():
        return _draw(case, seed)


def draw_columns(case: Case, columns: Columns, seed: bytes, digests: bytes | None = None) -> Outcome:
    """``draw`` for a case whose applicants come as ``columns`` (``case.applicants`` is not read).

    For callers that have checked the applicants already (case files): the choice matrix is taken
    as given (known schools, none twice in a row). Same rules and same outcome as ``draw``.
    ``digests``: ``lottery_digests(seed, columns.ids)`` when the caller has computed them already.
    """
    if case.mechanism is Mechanism.DEFERRED_ACCEPTANCE and case.multiples is Multiples.TOGETHER:
        raise ValueError(TOGETHER_WITH_DA_REFUSED)
    with no_cyclic_gc():
        return _draw(case, seed, columns, digests)


def _draw(case: Case, seed: bytes, columns: Columns | None = None, digests: bytes | None = None) -> Outcome:
    index = _school_index(case.schools)
    ids = columns.ids if columns is not None else list(map(attrgetter("applicant_id"), case.applicants))
    roster = _lottery(seed, ids, digests)
    table = _table(case, roster, index, columns)
    capacity = np.array([s.capacity for s in case.schools], dtype=np.int64)
    log = [
        f"engine {ENGINE_VERSION}",
        f"mechanism {case.mechanism.value}, multiples {case.multiples.value}",
        f"default tier {case.default_tier}",
        f"{len(roster.ids)} applicants, {len(case.schools)} schools, {int(capacity.sum())} seats",
        f"{len(table.ineligible)} ineligible choices skipped",
    ]
    units = None
    if case.mechanism is Mechanism.DEFERRED_ACCEPTANCE:
        school, column = _deferred_acceptance(table, capacity, log)
    else:
        units = _units(case, roster, table, columns)
        school, column = _choice_rounds(units, table, capacity, log)
    placed = int((school >= 0).sum())
    log.append(f"placed {placed}, not placed {len(roster.ids) - placed}")
    return Outcome(
        tickets=_Tickets(roster),
        placements=_Placements(roster, [s.school_id for s in case.schools], school, column),
        cutoffs=_cutoffs(case, table, units, school, column),
        ineligible=tuple(table.ineligible),
        transcript=tuple(log),
    )


def result_arrays(
    outcome: Outcome,
) -> tuple[list[str], IntArray, NDArray[np.uint8], IntArray, IntArray, list[str]] | None:
    """What results.csv holds, as arrays, for an Outcome made by this engine (else None).

    (ids in input order, ``order`` (lottery index -> input row), the values in lottery order as
    hex digits (an ASCII matrix, 64 columns), school index and choice column (0-based) per lottery
    index, -1 when not placed, and the school ids).
    """
    tickets, placements = outcome.tickets, outcome.placements
    if not (isinstance(tickets, _Tickets) and isinstance(placements, _Placements)):
        return None
    roster = tickets._roster
    return (roster.ids, roster.order, roster.hex_matrix(), placements._school_array, placements._column_array,
            placements._ids)


def ranked_rows(outcome: Outcome) -> Iterator[tuple[str, int, str, str, str]]:
    """(applicant_id, lottery_rank, lottery_value, school_id or "", choice_rank or "") in lottery order.

    What results.csv holds, read straight from the engine's arrays: no Ticket or Placement objects
    are made, which matters at a million applicants. Works for any Outcome (slower for others).
    """
    tickets, placements = outcome.tickets, outcome.placements
    if isinstance(tickets, _Tickets) and isinstance(placements, _Placements):
        roster, hexes = tickets._roster, tickets._roster.hexes
        for i, a in enumerate(roster.ranked_ids):
            s, c = placements._school[i], placements._column[i]
            seat = (placements._ids[s], str(c + 1)) if s >= 0 else ("", "")
            yield a, i + 1, hexes[64 * i : 64 * i + 64], *seat
        return
    for a, t in sorted(tickets.items(), key=lambda item: item[1].rank):
        p = placements.get(a)
        yield a, t.rank, t.value, *((p.school_id, str(p.choice_rank)) if p else ("", ""))
