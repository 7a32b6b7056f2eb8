"""The fast reader of a large ``applicants.csv``: the file's bytes parsed with numpy into columns.

A city's applicants.csv (a million rows) is read on the bytes with numpy. It applies only when
the file is plain (UTF-8, no quotes, no CR, no NUL, every row with the header's column count,
ids and choices short) and everything in it is valid; otherwise it gives up (None) and the
exact checks of :mod:`jiaowei.admissions.case` read the file again and name every problem with
its row. Either way the draw is the same, byte for byte (tests/admissions/test_case_fast_reader.py).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from jiaowei.admissions import engine
from jiaowei.admissions.model import CASE_ID, School

_BAD_ID_BYTE = np.zeros(256, dtype=bool)
_BAD_ID_BYTE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32, ord(";"), ord(","), ord('"')]] = True
_IDS = re.compile(r'(?:[^\s,;"]+,)*')
_MAX_KEY_BYTES = 16


_WORD_MASK = np.array([(2**64 - 1) ^ (2 ** (64 - 8 * k) - 1) for k in range(9)], dtype=np.uint64)


def _token_keys(padded: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Tokens of at most 16 bytes as two big-endian uint64 words each, zero-padded: (T, 2).

    ``padded`` ends with 16 zero bytes after the data, so a window never runs past it.
    """
    padded = np.ascontiguousarray(padded)
    words = np.ndarray(shape=(padded.size - 7,), dtype=">u8", buffer=padded, strides=(1,))  # at every byte
    first = words[start].astype(np.uint64)
    first &= _WORD_MASK[np.minimum(length, 8)]
    if not (start.size and int(length.max()) > 8):
        return np.stack((first, np.zeros_like(first)), axis=1)
    second = words[start + 8].astype(np.uint64)
    second &= _WORD_MASK[np.clip(length - 8, 0, 8)]
    return np.stack((first, second), axis=1)


def _key_hash(keys: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return keys[:, 0] * np.uint64(0x9E3779B97F4A7C15) + keys[:, 1] * np.uint64(0xC2B2AE3D27D4EB4F)


def _lookup(keys: np.ndarray, table: np.ndarray) -> np.ndarray:
    """For each key (T, 2), its row in ``table`` (S, 2) of distinct keys, or -1.

    Small hash tables, one after the other: each holds the table keys that did not fit an earlier
    one; every candidate is confirmed by comparing the whole key. When every key fits one word
    (ids of at most 8 bytes) only that word is hashed and compared.
    """
    found = np.full(keys.shape[0], -1, dtype=np.int64)
    one_word = not table[:, 1].any() and not keys[:, 1].any()
    if one_word:
        hashed, table_hash = np.ascontiguousarray(keys[:, 0]), np.ascontiguousarray(table[:, 0])
    else:
        hashed, table_hash = _key_hash(keys), _key_hash(table)
    left = np.arange(table.shape[0])  # table rows not in a hash table yet
    todo: np.ndarray | None = None  # keys not found yet (None: all of them)
    bits = max(8, min(20, 2 * int(table.shape[0]).bit_length() + 4))
    shift = np.uint64(64 - bits)
    for level in range(64):
        if not left.size or (todo is not None and not todo.size):
            break
        mult = np.uint64((0x9E3779B97F4A7C15 + level * 0x632BE59BD9B4E01A) % 2**64 | 1)
        with np.errstate(over="ignore"):
            slots = (table_hash[left] * mult) >> shift
        lut = np.full(1 << bits, -1, dtype=np.int32)
        lut[slots[::-1]] = left[::-1]  # on a clash the first row keeps the slot
        placed = lut[slots] == left
        mine = hashed if todo is None else hashed[todo]
        with np.errstate(over="ignore"):
            candidate = lut[(mine * mult) >> shift].astype(np.int64)
        clipped = np.maximum(candidate, 0)
        hit = candidate >= 0
        if one_word:
            hit &= table_hash[clipped] == mine
        else:
            rows = keys if todo is None else keys[todo]
            hit &= (table[:, 0][clipped] == rows[:, 0]) & (table[:, 1][clipped] == rows[:, 1])
        if todo is None:
            found[hit] = candidate[hit]
            todo = np.flatnonzero(~hit)
        else:
            found[todo[hit]] = candidate[hit]
            todo = todo[~hit]
        left = left[~placed]
    return found


_LOW_BYTES = np.array([2 ** (8 * k) - 1 for k in range(8)] + [2**64 - 1], dtype=np.uint64)


def _short_keys(padded: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Tokens of at most 8 bytes as one little-endian uint64 each, the bytes past the token zero."""
    words = np.ndarray(shape=(padded.size - 7,), dtype="<u8", buffer=padded, strides=(1,))
    keys = words[start].astype(np.uint64, copy=False)
    keys &= _LOW_BYTES[length]
    return keys


def _lookup_short(padded: np.ndarray, start: np.ndarray, length: np.ndarray, table_blob: np.ndarray,
                  table_length: np.ndarray) -> np.ndarray | None:
    """``_lookup`` for tokens and table keys of at most 8 bytes: one collision-free hash table.

    Each token's row in the table (in the order of ``table_length``, keys laid end to end in
    ``table_blob``), or -1; None when this does not apply (long keys, or no multiplier found).
    """
    if not table_length.size or int(table_length.max()) > 8 or (length.size and int(length.max()) > 8):
        return None
    table = _short_keys(np.ascontiguousarray(table_blob), np.cumsum(table_length) - table_length,
                        table_length)
    if np.unique(table).size != table.size:
        return None
    bits = max(10, min(22, int(table.size).bit_length() + 10))
    shift = np.uint64(64 - bits)
    with np.errstate(over="ignore"):
        for attempt in range(32):
            mult = np.uint64((0x9E3779B97F4A7C15 + attempt * 0x632BE59BD9B4E01A) % 2**64 | 1)
            slots = (table * mult) >> shift
            if np.unique(slots).size == slots.size:
                break
        else:
            return None
        lut = np.full(1 << bits, table.size, dtype=np.int16 if table.size < 2**15 else np.int32)
        lut[slots] = np.arange(table.size)
        known = np.append(table, np.uint64(0))  # a token is never all zero bytes (no NUL, not empty)
        keys = _short_keys(padded, start, length)
        hashed = keys * mult
        hashed >>= shift
    rows = lut[hashed].astype(np.int64)
    hit = known[rows] == keys
    if not hit.all():
        rows[~hit] = -1
    return rows


def fast_applicants(data: bytes | None, schools: Sequence[School],
                     with_ids: Callable[[list[str]], None] | None = None) -> engine.Columns | None:
    """applicants.csv as engine.Columns when it is plain and valid, else None (see the module).

    ``with_ids(ids)`` is called once the ids are read (unless the file is given up before), in a
    thread beside the rest of the parsing (numpy work, which releases the GIL) for a large file.
    """
    if data is None or b'"' in data or b"\r" in data or b"\0" in data:
        return None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
    head_end = data.find(b"\n")
    if head_end < 0:
        return None
    header = data[:head_end].decode("utf-8").split(",")
    if header[:3] != ["applicant_id", "choices", "group_id"] or len(set(header)) != len(header):
        return None
    width = len(header)
    size = len(data) - head_end - 1
    tail = b"\n" if size and not data.endswith(b"\n") else b""
    padded = np.empty(size + len(tail) + _MAX_KEY_BYTES, dtype=np.uint8)  # the body, one copy
    padded[:size] = np.frombuffer(data, dtype=np.uint8)[head_end + 1:]
    padded[size:] = 0
    if tail:
        padded[size] = 10
    arr = padded[: size + len(tail)]
    ends = np.flatnonzero(arr == 10)
    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)
    non_blank = ends > starts
    if not non_blank.all():
        starts, ends = starts[non_blank], ends[non_blank]
    n = ends.size
    if n == 0 or any(len(s.school_id.encode("utf-8")) > _MAX_KEY_BYTES or "\0" in s.school_id
                     for s in schools):
        return None
    commas = np.flatnonzero(arr == 44)
    if commas.size != n * (width - 1):
        return None
    cells = commas.reshape(n, width - 1)
    if not ((cells[:, 0] > starts).all() and (cells[:, -1] < ends).all()):
        return None  # some row has too many or too few columns, or an empty applicant_id
    field_start = np.concatenate((starts[:, None], cells + 1), axis=1)
    field_end = np.concatenate((cells, ends[:, None]), axis=1)
    # applicant_id: "id," for every row, checked as a whole
    id_length = field_end[:, 0] - field_start[:, 0] + 1
    longest = int(id_length.max())
    if longest <= _MAX_KEY_BYTES:  # windows of the longest id, then the bytes past each id dropped
        windows = np.lib.stride_tricks.as_strided(padded, shape=(arr.size, longest), strides=(1, 1))
        blob_bytes = windows[field_start[:, 0]][np.arange(longest) < id_length[:, None]]
    else:
        total = int(id_length.sum())
        offsets = np.cumsum(id_length) - id_length
        blob_bytes = arr[np.repeat(field_start[:, 0] - offsets, id_length) + np.arange(total)]
    blob = blob_bytes.tobytes()
    check = blob_bytes.copy()
    check[np.cumsum(id_length) - 1] = ord("x")  # the separators
    if _BAD_ID_BYTE[check].any():
        return None
    text = blob.decode("utf-8")
    if not text.isascii() and not _IDS.fullmatch(text):
        return None
    ids = text.split(",")
    ids.pop()
    if with_ids is None:
        return _fast_columns(ids, header, padded, arr, field_start, field_end, schools)
    if len(ids) < _THREAD_FROM:
        with_ids(ids)
        return _fast_columns(ids, header, padded, arr, field_start, field_end, schools)
    switch = sys.getswitchinterval()
    with ThreadPoolExecutor(max_workers=1) as pool:
        beside = pool.submit(with_ids, ids)
        sys.setswitchinterval(min(switch, 0.0002))  # hand the GIL back soon after each numpy call
        try:
            columns = _fast_columns(ids, header, padded, arr, field_start, field_end, schools)
        finally:
            sys.setswitchinterval(switch)
            beside.result()
    return columns


_THREAD_FROM = 50_000  # applicants; below that a thread costs more than it saves


def _fast_columns(ids: list[str], header: list[str], padded: np.ndarray, arr: np.ndarray,
                  field_start: np.ndarray, field_end: np.ndarray, schools: Sequence[School]
                  ) -> engine.Columns | None:
    """The rest of ``fast_applicants``: groups, choices and districts, once the ids are read."""
    n = len(ids)
    body = padded.data  # a memoryview: slices without copying the file
    # group_id: empty, or a valid id
    group_length = field_end[:, 2] - field_start[:, 2]
    group_ids: list[str] | None = None
    if group_length.any():
        group_ids = [""] * n
        for r in np.flatnonzero(group_length).tolist():
            g = bytes(body[field_start[r, 2]:field_end[r, 2]]).decode("utf-8")
            if not CASE_ID.fullmatch(g):
                return None
            group_ids[r] = g
    # choices: school ids separated by ;
    c_start, c_end = field_start[:, 1], field_end[:, 1]
    semis = np.flatnonzero(arr == 59)
    row_of = np.searchsorted(c_start, semis, side="right") - 1  # the row whose choices start before
    inside = semis < c_end[row_of]
    if not inside.all():
        semis, row_of = semis[inside], row_of[inside]
    listed = (c_end > c_start).astype(np.int64)
    per_row = np.bincount(row_of, minlength=n)
    count = per_row + listed
    first = np.cumsum(count) - count  # each row's first token
    semi_first = np.cumsum(per_row) - per_row
    token_start = np.empty(int(count.sum()), dtype=np.int64)
    token_end = np.empty_like(token_start)
    at = first[row_of] + np.arange(semis.size) - semi_first[row_of]  # the token a ; ends
    token_end[at], token_start[at + 1] = semis, semis + 1
    rows_listed = np.flatnonzero(listed)
    token_start[first[rows_listed]] = c_start[rows_listed]
    token_end[first[rows_listed] + count[rows_listed] - 1] = c_end[rows_listed]
    token_length = token_end - token_start
    if token_length.size and (token_length.min() <= 0 or token_length.max() > _MAX_KEY_BYTES):
        return None
    school_blob = np.frombuffer("".join(s.school_id for s in schools).encode("utf-8") + bytes(_MAX_KEY_BYTES),
                                dtype=np.uint8)
    school_length = np.array([len(s.school_id.encode("utf-8")) for s in schools], dtype=np.int64)
    codes = _lookup_short(padded, token_start, token_length, school_blob, school_length)
    if codes is None:
        table = _token_keys(school_blob, np.cumsum(school_length) - school_length, school_length)
        codes = _lookup(_token_keys(padded, token_start, token_length), table)
        if (codes < 0).any():
            return None
    elif codes.size and int(codes.min()) < 0:
        return None
    m = int(count.max()) if n else 0
    matrix = np.full((n, max(m, 1)), -1, dtype=np.int64)[:, :m]
    rows = np.repeat(np.arange(n), count)
    matrix[rows, np.arange(codes.size) - np.repeat(first, count)] = codes
    if m > 1:
        ordered = np.sort(matrix, axis=1)
        if ((ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)).any():
            return None
    # district
    districts, home = [""], np.zeros(n, dtype=np.int64)
    if "district" in header:
        at = header.index("district")
        d_start, d_length = field_start[:, at], field_end[:, at] - field_start[:, at]
        if d_length.max() > _MAX_KEY_BYTES:
            given = [bytes(body[s:s + k]).decode("utf-8")
                     for s, k in zip(d_start.tolist(), d_length.tolist(), strict=True)]
            index = {d: k for k, d in enumerate(dict.fromkeys(given))}
            home = np.fromiter(map(index.__getitem__, given), dtype=np.int64, count=n)
            return engine.Columns(ids=ids, choices=matrix, districts=list(index), home=home,
                                     group_ids=group_ids)
        keys = _token_keys(padded, d_start, d_length)
        hashed = _key_hash(keys)
        distinct, first_row, home = np.unique(hashed, return_index=True, return_inverse=True)
        if not (keys[first_row][home.ravel()] == keys).all():
            return None
        home = home.ravel().astype(np.int64)
        districts = [bytes(body[s:s + k]).decode("utf-8")
                     for s, k in zip(d_start[first_row].tolist(), d_length[first_row].tolist(), strict=True)]
    return engine.Columns(ids=ids, choices=matrix, districts=districts, home=home, group_ids=group_ids)

