"""scripts/install-test-deps: which Debian packages it finds missing, and what it does about them.

Every place the script looks is pointed at a temporary directory, and apt-get is a fake that
records its arguments, so nothing is installed.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "install-test-deps"
WQY = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc: WenQuanYi Micro Hei:style=Regular"
NOTO = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc: Noto Sans CJK SC:style=Regular"
DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf: DejaVu Sans:style=Book"


def _executable(path: Path, text: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


@dataclass
class Machine:
    """A pretend Debian machine: which packages are there, who runs the script."""

    root: Path
    postgresql: bool = True
    chromium: bool = True
    fonts: tuple[str, ...] = (WQY,)
    euid: int = 1000
    databases: str | None = None
    fc_list: bool = True

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        fake_bin = self.root / "bin"
        _executable(fake_bin / "make")
        _executable(fake_bin / "apt-get", f'#!/bin/sh\necho "$*" >> {self.root / "apt.log"}\n')
        if self.postgresql:
            _executable(self.root / "pg" / "15" / "bin" / "initdb")
        if self.chromium:
            _executable(self.root / "chromium")
        fc_list = _executable(self.root / "fc-list", "#!/bin/sh\ncat <<'END'\n" + "\n".join(self.fonts)
                              + "\nEND\n")
        env = {
            "PATH": f"{fake_bin}:{os.environ['PATH']}",
            "TEST_DEPS_POSTGRESQL_BIN": f"{self.root}/pg/*/bin",
            "TEST_DEPS_CHROMIUM": str(self.root / "chromium"),
            "TEST_DEPS_FC_LIST": str(fc_list) if self.fc_list else str(self.root / "no-fc-list"),
            "TEST_DEPS_FONT_DIR": str(self.root / "fonts"),
            "TEST_DEPS_EUID": str(self.euid),
        }
        if self.databases is not None:
            env["JIAOWEI_TEST_DATABASES"] = self.databases
        return subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=30)

    def missing(self) -> list[str]:
        result = self.run("--missing")
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    def apt_calls(self) -> list[str]:
        log = self.root / "apt.log"
        return log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


def test_nothing_missing_says_nothing_and_succeeds(machine):
    assert machine.missing() == []
    result = machine.run()
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert machine.apt_calls() == []


def test_a_fresh_machine_misses_all_three_packages(machine):
    machine.postgresql = machine.chromium = False
    machine.fonts = (DEJAVU,)
    assert machine.missing() == ["postgresql", "chromium", "fonts-wqy-microhei"]


def test_a_noto_cjk_font_will_do_instead_of_wenquanyi(machine):
    machine.fonts = (DEJAVU, NOTO)
    assert machine.missing() == []


@pytest.mark.parametrize(("font", "expected"), [
    ("truetype/wqy/wqy-microhei.ttc", []), ("opentype/noto/NotoSansCJK-Regular.ttc", []),
    ("truetype/dejavu/DejaVuSans.ttf", ["fonts-wqy-microhei"]),
])
def test_without_fc_list_the_font_files_are_looked_for(machine, font, expected):
    machine.fc_list = False
    (machine.root / "fonts" / font).parent.mkdir(parents=True)
    (machine.root / "fonts" / font).write_bytes(b"")
    assert machine.missing() == expected


def test_a_postgresql_directory_without_initdb_is_not_the_server(machine):
    machine.postgresql = False
    (machine.root / "pg" / "15" / "bin").mkdir(parents=True)
    _executable(machine.root / "pg" / "15" / "bin" / "psql")
    assert machine.missing() == ["postgresql"]


@pytest.mark.parametrize(("databases", "expected"), [
    ("sqlite", []), ("sqlite,postgresql", ["postgresql"]), ("postgresql", ["postgresql"]),
    (None, ["postgresql"]),
])
def test_postgresql_is_needed_only_when_the_suite_uses_it(machine, databases, expected):
    machine.postgresql = False
    machine.databases = databases
    assert machine.missing() == expected


def test_without_root_it_stops_with_the_one_sudo_line(machine):
    machine.postgresql = machine.chromium = False
    result = machine.run()
    assert result.returncode == 1 and result.stdout == ""
    sudo = [line.strip() for line in result.stderr.splitlines() if "apt-get" in line]
    assert sudo == ["sudo apt-get install --no-install-recommends postgresql chromium"]
    assert "JIAOWEI_TEST_DATABASES=sqlite make test" in result.stderr
    assert machine.apt_calls() == []


def test_without_root_and_sqlite_only_it_does_not_mention_postgresql(machine):
    machine.postgresql = machine.chromium = False
    machine.databases = "sqlite"
    result = machine.run()
    assert result.returncode == 1
    assert "sudo apt-get install --no-install-recommends chromium\n" in result.stderr
    assert "postgresql" not in result.stderr.lower()


def test_as_root_it_updates_once_and_installs_only_what_is_missing(machine):
    machine.euid = 0
    machine.fonts = (DEJAVU,)
    result = machine.run()
    assert result.returncode == 0, result.stderr
    assert machine.apt_calls() == ["update -qq", "install -y -qq --no-install-recommends fonts-wqy-microhei"]


def test_as_root_with_nothing_missing_it_runs_no_apt_get(machine):
    machine.euid = 0
    assert machine.run().returncode == 0 and machine.apt_calls() == []
