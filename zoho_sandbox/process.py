"""The sandbox CRM's CLI server in its own process (own core and GIL), as docker-compose runs it."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import requests

log = logging.getLogger(__name__)


@contextmanager
def sandbox_process(
    accounts: int,
    contacts: int,
    *,
    seed: int,
    deals: int = 0,
    timeout: float = 300.0,
    profile: str = "default",
    knobs: Mapping[str, float | bool] | None = None,
) -> Iterator[tuple[str, int]]:
    """The sandbox CRM CLI in its own process (its own core and GIL); yields (base URL, pid).
    `profile` and `knobs` (e.g. {"latency_ms": 5}) become `--profile` and knob flags."""
    port = free_port()
    sizes = {"accounts": accounts, "contacts": contacts, "deals": deals}
    cmd = serve_command(port, seed, sizes, profile, knobs or {})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(f"the sandbox exited with {proc.returncode}: {err[-2000:]}")
            try:
                requests.get(f"{base}/__sandbox/health", timeout=5).raise_for_status()
                break
            except requests.RequestException as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the sandbox did not answer within {timeout:.0f} s"
                    ) from exc
                time.sleep(0.2)
        log.info(
            "sandbox CRM (pid %d) on %s: %d accounts, %d contacts",
            proc.pid,
            base,
            accounts,
            contacts,
        )
        yield base, proc.pid
    finally:
        stop(proc)
        if proc.stderr:
            proc.stderr.close()


def serve_command(
    port: int, seed: int, sizes: Mapping[str, int], profile: str, knobs: Mapping[str, float | bool]
) -> list[str]:
    """The CLI command serving these sizes (accounts, contacts, deals) on `port`."""
    cmd = [sys.executable, "-m", "zoho_sandbox", "serve", "--port", str(port), "--seed", str(seed)]
    for name, n in sizes.items():
        cmd += [f"--{name}", str(n)]
    return [*cmd, "--profile", profile, *knob_flags(knobs)]


def knob_flags(knobs: Mapping[str, float | bool]) -> list[str]:
    """CLI flags for knob values: `--latency-ms 5`, `--validate-writes` / `--no-validate-writes`."""
    flags: list[str] = []
    for name, value in knobs.items():
        flag = name.replace("_", "-")
        if isinstance(value, bool):
            flags.append(f"--{flag}" if value else f"--no-{flag}")
        else:
            flags += [f"--{flag}", str(value)]
    return flags


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Ask a process to end (SIGTERM); kill it if it has not within `timeout` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)
