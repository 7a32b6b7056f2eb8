"""IETF RFC 3797 "Publicly Verifiable Nominations Committee (NomCom) Random Selection", section 4.

The key string: each source's numbers are sorted into ascending numeric order; each number is
written in decimal without leading zeros, with its decimal point (an integer gets a trailing
``.``; a fraction loses its trailing zeros, so ``3.140`` is ``3.14``); a source's numbers are
concatenated and followed by ``/``. For selection ``i`` = 0, 1, 2, ... the MD5 digest of
``i`` (2 bytes, big-endian) ‖ key ‖ ``i`` (2 bytes, big-endian) is read as a 128-bit unsigned
big-endian integer; its remainder modulo the number of names still in the pool picks the
name at that 0-based position among those remaining (in pool order), which leaves the pool.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from jiaowei.errors import Problem, ValidationError

_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")
MAX_SELECTIONS = 1 << 16  # the counter is two bytes


@dataclass(frozen=True)
class Selection:
    index: int  # 1-based order of selection
    digest: str  # MD5, upper-case hex, as the RFC prints it
    remaining: int  # pool size the digest was divided by
    number: int  # 1-based position in the pool
    name: str


def canonical_number(text: str) -> str:
    """A number as RFC 3797 writes it: no leading zeros, a decimal point, no trailing zeros after it."""
    whole, _, fraction = text.partition(".")
    return f"{int(whole)}.{fraction.rstrip('0')}"


def key_string(sources: Sequence[str]) -> str:
    """The RFC 3797 key string of the sources; each source is numbers separated by spaces or commas."""
    problems = []
    parts = []
    for index, source in enumerate(sources, start=1):
        tokens = [t for t in re.split(r"[\s,]+", source.strip()) if t]
        bad = [t for t in tokens if not _NUMBER.fullmatch(t)]
        if not tokens or bad:
            problems.append(Problem("not a list of numbers", field=f"--source {index}", value=source,
                                    expected="one or more non-negative decimal numbers, e.g. '2 5 12 8 10'"))
            continue
        ordered = sorted(tokens, key=Decimal)
        parts.append("".join(canonical_number(t) for t in ordered) + "/")
    if not sources:
        problems.append(Problem("no sources", field="--source", expected="at least one source of randomness"))
    if problems:
        raise ValidationError("RFC 3797 needs numeric sources of randomness.", problems)
    return "".join(parts)


def select(names: Sequence[str], sources: Sequence[str], count: int) -> list[Selection]:
    """Select ``count`` of ``names`` (numbered from 1) exactly as RFC 3797 section 4 describes."""
    if not 0 < count <= len(names) or count > MAX_SELECTIONS:
        raise ValidationError("Cannot select that many.", [Problem(
            "count out of range", field="--count", value=count,
            expected=f"1 to {min(len(names), MAX_SELECTIONS)} (the pool has {len(names)} names)")])
    key = key_string(sources).encode("ascii")
    remaining = list(range(1, len(names) + 1))
    chosen = []
    for i in range(count):
        counter = i.to_bytes(2, "big")
        digest = hashlib.md5(counter + key + counter, usedforsecurity=False).digest()
        size = len(remaining)
        number = remaining.pop(int.from_bytes(digest, "big") % size)
        chosen.append(Selection(index=i + 1, digest=digest.hex().upper(), remaining=size, number=number,
                                name=names[number - 1]))
    return chosen


def read_pool(data: bytes, filename: str = "pool") -> list[str]:
    """A pool file: one name per line (UTF-8), numbered from 1; a final line break is optional."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(f"{filename} is not UTF-8 text.") from None
    lines = text.splitlines()
    blank = [Problem(f"{filename}: empty name", row=i, field=filename, expected="one name per line")
             for i, line in enumerate(lines, start=1) if not line.strip()]
    if blank or not lines:
        raise ValidationError(f"{filename} is not a pool of names.", blank or [
            Problem(f"{filename}: no names", field=filename, expected="one name per line")])
    return [line.strip() for line in lines]
