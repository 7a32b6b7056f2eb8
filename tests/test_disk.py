"""Files written whole (jiaowei.disk): the target is replaced in one rename, and a failed write leaves
neither a partial target nor its temporary file."""

from __future__ import annotations

from pathlib import Path

import pytest

from jiaowei.disk import write_whole


def test_a_file_is_written_into_a_new_folder_and_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "report.pdf"
    write_whole(target, b"first")
    write_whole(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["report.pdf"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    target = tmp_path / "evidence.bin"
    write_whole(target, b"old")
    with pytest.raises(TypeError):
        write_whole(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["evidence.bin"]
