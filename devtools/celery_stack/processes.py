"""Child processes in their own process groups: started with a log file, stopped or killed as a tree."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil


@dataclass
class Child:
    """One started process, its log and the command that started it."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes]
    out: IO[bytes]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, chars: int = 3000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text[-chars:]


def tree(pid: int) -> list[psutil.Process]:
    """The process and all its descendants (children first found, then their children)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def kill_tree(pid: int) -> list[int]:
    """SIGKILL a process, every descendant and its process group at once; returns the pids hit."""
    procs = tree(pid)
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    return [p.pid for p in procs]


@dataclass
class ProcessGroup:
    """Every process a stack started, stopped together in reverse order of start."""

    log_dir: Path
    children: dict[str, Child] = field(default_factory=dict)

    def spawn(self, name: str, argv: Sequence[str], env: Mapping[str, str]) -> Child:
        """Start `argv` in a new session (so its forks can be stopped with it), logging to a file."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        out = log.open("ab")
        proc = subprocess.Popen(
            list(argv), env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        child = Child(name, list(argv), dict(env), log, proc, out)
        self.children[name] = child
        return child

    def run(self, name: str, argv: Sequence[str], env: Mapping[str, str], timeout: float) -> str:
        """Run a one-shot step to completion; a failure raises with the end of its log."""
        child = self.spawn(name, argv, env)
        try:
            code = child.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop(name)
            raise TimeoutError(
                f"{name} did not finish in {timeout:.0f} s; see {child.log}"
            ) from None
        child.out.close()
        del self.children[name]
        if code != 0:
            raise RuntimeError(f"{name} exited with {code}; see {child.log}:\n{child.tail()}")
        return child.log.read_text(errors="replace")

    def dead(self) -> dict[str, int]:
        return {n: c.proc.returncode for n, c in self.children.items() if not c.alive()}

    def kill(self, name: str) -> list[int]:
        """SIGKILL one child's whole tree (a lost machine); it stays listed until restarted."""
        child = self.children[name]
        hit = kill_tree(child.proc.pid)
        child.proc.wait(30)
        return hit

    def restart(self, name: str) -> Child:
        old = self.children.pop(name)
        old.out.close()
        return self.spawn(name, old.argv, old.env)

    def stop(self, name: str, timeout: float = 20) -> None:
        """SIGTERM the group, SIGKILL what is left after `timeout`, then any straggler of the tree."""
        child = self.children.pop(name)
        members = tree(child.proc.pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.proc.wait(timeout)
        kill_tree(child.proc.pid)
        for member in members:
            with contextlib.suppress(psutil.NoSuchProcess):
                member.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.proc.wait(5)
        child.out.close()

    def stop_all(self, timeout: float = 20) -> None:
        """SIGTERM every group at once, then stop each (killing what has not exited by then)."""
        for child in self.children.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name in reversed(list(self.children)):
            self.stop(name, timeout=max(deadline - time.monotonic(), 0.1))


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, interval: float = 1.0
) -> float:
    """Poll `check` until true; returns the seconds it took, raises TimeoutError naming `what`."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what}: not reached within {timeout:.0f} s")
        time.sleep(interval)
    return time.monotonic() - started
