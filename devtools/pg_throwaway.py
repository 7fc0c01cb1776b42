"""A throwaway PostgreSQL cluster from the installed server binaries, run as an unprivileged user.

Used by the benchmark (and reusable by tests): fsync is off, so it is for scratch data only.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def find_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl, or None when PostgreSQL is not installed."""
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(Path(out.stdout.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for path in candidates:
        if (path / "initdb").exists() and (path / "pg_ctl").exists():
            return path
    return None


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgCluster:
    """One running cluster: its binaries, its data root, its port and the user it runs as."""

    bindir: Path
    root: Path
    port: int
    run_as: str | None

    @property
    def admin_uri(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def uri(self, database: str) -> str:
        """URI of one database on this cluster, as the superuser."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _cmd(self, *args: str) -> list[str]:
        prefix = ["runuser", "-u", self.run_as, "--"] if self.run_as else []
        return [*prefix, *args]

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        """Run one of the server's programs (as the cluster's user) on the data directory."""
        subprocess.run(
            self._cmd(str(self.bindir / program), "-D", str(self.root / "data"), *args),
            check=check,
            capture_output=True,
        )

    def start(self) -> None:
        """initdb a fresh data directory and start the server (trust auth, loopback only)."""
        self._run(
            "initdb", "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"
        )
        opts = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "-o", opts, "-l", self._log, "-w", "-t", "60", "start")

    def restart(self) -> None:
        """Restart the server with a fast shutdown: open sessions are cut off and their transactions
        roll back, as when a production server is restarted under load (the fault tests use it)."""
        # The server's output must go to its log, not to this call's captured pipes.
        self._run("pg_ctl", "-l", self._log, "-m", "fast", "-w", "-t", "60", "restart")

    def stop(self) -> None:
        """Stop the server immediately and delete its data directory."""
        self._run("pg_ctl", "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def _log(self) -> str:
        return str(self.root / "server.log")


def start_cluster() -> PgCluster:
    """Start a cluster; as root the server runs as the ``postgres`` system user (created if missing)."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError(
            "PostgreSQL server binaries (initdb, pg_ctl) not found; install postgresql-15"
        )
    run_as: str | None = None
    if os.geteuid() == 0:
        run_as = "postgres"
        try:
            pwd.getpwnam(run_as)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", run_as], check=True)
    root = Path(tempfile.mkdtemp(prefix="crm-books-pg-"))
    if run_as:
        entry = pwd.getpwnam(run_as)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    root.chmod(0o700)
    cluster = PgCluster(bindir=bindir, root=root, port=free_port(), run_as=run_as)
    cluster.start()
    return cluster
