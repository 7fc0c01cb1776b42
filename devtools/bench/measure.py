"""Measuring a benchmark phase: wall and CPU time, peak resident memory, slow SQL statements."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from crm_books import config as crm_config
from devtools.bench.report import BenchReport, PhaseResult

log = logging.getLogger("devtools.bench")


@dataclass(frozen=True)
class Memory:
    """Memory of this process plus its forked workers (devtools.bench.chunk_pool), in MB.

    :param pss: summed proportional set sizes (``/proc/PID/smaps_rollup`` ``Pss:``): a page shared
        by n of the processes (copy-on-write after the fork) counts 1/n in each, so the sum is
        their real footprint. None when not read (see RssSampler) or not on Linux.
    :param rss: summed VmRSS (``/proc/PID/status``): a shared page counts once per process.
    """

    pss: float | None
    rss: float


def _memory(*, with_pss: bool) -> Memory:
    """This process's and its workers' memory now; PSS only when ``with_pss`` (it costs about
    5 ms per GB mapped, VmRSS microseconds)."""
    try:
        pids = ["self", *(str(pid) for pid in _worker_pids())]
        rss = sum(_proc_kb(pid, "status", "VmRSS:") for pid in pids) / 1024
        if not with_pss:
            return Memory(None, rss)
        return Memory(sum(_proc_kb(pid, "smaps_rollup", "Pss:") for pid in pids) / 1024, rss)
    except OSError:
        pass
    import resource

    return Memory(None, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _proc_kb(pid: str, name: str, key: str) -> int:
    """A ``key: N kB`` line of ``/proc/<pid>/<name>`` (0 when the process exited meanwhile)."""
    try:
        with open(f"/proc/{pid}/{name}", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        if pid == "self":
            raise
    return 0


def _worker_pids() -> list[int]:
    """Children running this same command line: forked workers, not the sandbox CRM process."""
    own = Path("/proc/self/cmdline").read_bytes()
    pids: list[int] = []
    for children in Path("/proc/self/task").glob("*/children"):
        for pid in children.read_text().split():
            try:
                if Path(f"/proc/{pid}/cmdline").read_bytes() == own:
                    pids.append(int(pid))
            except OSError:  # it exited meanwhile
                continue
    return pids


def _cpu_seconds() -> float:
    """CPU of this process and of its children that have exited (the chunk workers of a phase)."""
    times = os.times()
    return time.process_time() + times.children_user + times.children_system


def peak_rss_of(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RssSampler:
    """Samples the memory of this process and its workers in a thread; ``reset`` starts a new
    phase's peaks: of the summed PSS (the measure) and of the summed VmRSS (as before).

    :param interval: seconds between VmRSS samples.
    :param pss_every: a PSS sample every this many VmRSS samples (reading smaps_rollup walks
        the page tables: about 5 ms per GB, so every 20 ms it would take a core's tenth).
    """

    def __init__(self, *, interval: float = 0.02, pss_every: int = 10) -> None:
        self.interval = interval
        self.pss_every = pss_every
        self._samples = 0
        self._peak = Peak()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.reset()

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._samples += 1
            self._observe(with_pss=self._samples % self.pss_every == 0)

    def _observe(self, *, with_pss: bool) -> Peak:
        now = _memory(with_pss=with_pss)
        with self._lock:
            self._peak = self._peak.max(now)
            return self._peak

    def reset(self) -> None:
        with self._lock:
            self._peak = Peak()
        self._observe(with_pss=True)

    def peak(self) -> Peak:
        """The peaks since the last reset, a PSS sample taken now included."""
        return self._observe(with_pss=True)

    def peak_mb(self) -> float:
        """The peak summed PSS (VmRSS where PSS cannot be read) since the last reset."""
        return self.peak().mb


@dataclass(frozen=True)
class Peak:
    """Peaks of the summed PSS and VmRSS, in MB (0 before any sample)."""

    pss: float = 0.0
    rss: float = 0.0

    def max(self, now: Memory) -> Peak:
        pss = self.pss if now.pss is None else max(self.pss, now.pss)
        return Peak(pss, max(self.rss, now.rss))

    @property
    def mb(self) -> float:
        return self.pss or self.rss


@dataclass
class Tally:
    """Records a phase handled; set inside the ``Timer.phase`` block."""

    records: int = 0


class Timer:
    """Times phases into a report, with their peak memory (PSS, and the VmRSS sum).

    :param report: the report rows are appended to.
    :param sampler: the running memory sampler.
    """

    def __init__(
        self, *, report: BenchReport, sampler: RssSampler, slow: SlowStatements | None = None
    ) -> None:
        self.report = report
        self.sampler = sampler
        self.slow = slow

    @contextmanager
    def phase(self, section: str, phase: str, records: int = 0, note: str = "") -> Iterator[Tally]:
        tally = Tally(records)
        if self.slow is not None:
            self.slow.phase = f"{section}: {phase}"
        self.sampler.reset()
        log.info("[%s] %s ...", section, phase)
        started, cpu = time.perf_counter(), _cpu_seconds()
        yield tally
        seconds = time.perf_counter() - started
        peak = self.sampler.peak()
        row = PhaseResult(
            section,
            phase,
            tally.records,
            seconds,
            peak.mb,
            note,
            _cpu_seconds() - cpu,
            peak_vmrss_mb=peak.rss,
        )
        self.report.rows.append(row)
        log.info(
            "[%s] %s: %d records in %.2f s (%.0f records/s), peak PSS %.0f MB (VmRSS sum %.0f)",
            section,
            phase,
            row.records,
            row.seconds,
            row.per_second,
            row.peak_rss_mb,
            peak.rss,
        )


class SlowStatements:
    """Times every SQL statement on an engine and keeps those slower than ``threshold`` seconds,
    named by their include/sql file, so the report can say where a slow phase spends its time.

    :param threshold: seconds a statement must take to be kept.
    """

    def __init__(self, *, threshold: float) -> None:
        self.threshold = threshold
        self.phase = ""
        self.kept: list[tuple[str, str, float]] = []
        self._names = _statement_names()

    def attach(self, engine: Engine) -> None:
        from sqlalchemy import event

        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, _cursor: Any, *_args: Any) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def _after(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seconds = time.perf_counter() - conn.info["bench_started"].pop()
        if seconds >= self.threshold:
            name = self._names.get(_squash(statement), _squash(statement)[:70])
            self.kept.append((self.phase, name, seconds))


_BIND = re.compile(r"%\(\w+\)s|(?<![:\w]):\w+|\?")


def _squash(statement: str) -> str:
    """One form for a file's statement and the driver's: whitespace collapsed, binds as ``?``,
    and psycopg's escaped ``%%`` (the modulo operator) back to ``%``."""
    return _BIND.sub("?", " ".join(statement.split())).replace("%%", "%")


def _statement_names() -> dict[str, str]:
    """Each statement of each include/sql file (as run_sql sends it) -> "<area>/<file>"."""
    from crm_books.warehouse.sql_files import split_statements

    names: dict[str, str] = {}
    for path in crm_config.SQL_DIR.glob("*/*.sql"):
        name = f"{path.parent.name}/{path.name.split('.')[0]}"
        for n, statement in enumerate(split_statements(path.read_text(encoding="utf-8"))):
            names[_squash(statement)] = name if n == 0 else f"{name} #{n + 1}"
    return names


def load_average() -> str:
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"
