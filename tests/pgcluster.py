"""A throwaway PostgreSQL cluster from the Debian binaries, on a free port.

Used by the test suite (and by anything else that needs a real PostgreSQL for a while).
As root, the server runs as the ``postgres`` user, which the Debian package creates.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def bindir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    bin: Path
    root: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/jiaowei_test"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       cwd=self.root)

    def start(self) -> Cluster:
        data = self.root / "data"
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8")
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self._run("pg_ctl", "-D", str(data), "-o", options, "-l", str(self.root / "log"), "-w", "start")
        for _ in range(50):
            try:
                self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                          "jiaowei_test")
                return self
            except subprocess.CalledProcessError:
                time.sleep(0.2)
        raise RuntimeError("PostgreSQL did not accept connections")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_cluster() -> Cluster:
    found = bindir()
    if found is None:
        raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; "
                           "run scripts/install-test-deps (make test runs it) to install the Debian "
                           "package postgresql, or set JIAOWEI_TEST_DATABASES=sqlite to leave it out.")
    root = Path(tempfile.mkdtemp(prefix="jiaowei-pg-"))
    os.chmod(root, 0o755)
    return Cluster(found, root, free_port()).start()
