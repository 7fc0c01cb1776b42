"""Measures the sandbox: records/s generated, and records/s served over loopback HTTP."""

from __future__ import annotations

import os
import resource
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from crm_books import config
from crm_books.zoho.auth import CrmCredentials
from crm_books.zoho.client import ZohoCrmClient
from zoho_sandbox.generator import Generator
from zoho_sandbox.process import sandbox_process
from zoho_sandbox.server import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN


@dataclass(frozen=True)
class BenchResult:
    records: int
    seconds: float
    cpu_seconds: float  # of this process only
    peak_rss_mb: float  # of this process only
    server_cpu_seconds: float | None = None  # of the server process, when there is one
    server_peak_rss_mb: float | None = None

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        """One line: the rate, and the CPU and memory of this process (and of the server's)."""
        line = (
            f"{self.records} records in {self.seconds:.1f} s = {self.per_second:,.0f} records/s; "
            f"this process: {self.cpu_seconds:.1f} s CPU, peak RSS {self.peak_rss_mb:.0f} MB"
        )
        if self.server_cpu_seconds is not None and self.server_peak_rss_mb is not None:
            line += (
                f"; server process: {self.server_cpu_seconds:.1f} s CPU, "
                f"peak RSS {self.server_peak_rss_mb:.0f} MB"
            )
        return line


def sandbox_credentials(base_url: str) -> CrmCredentials:
    """The product's CRM credentials for a sandbox at `base_url` (its fixed OAuth client)."""
    return CrmCredentials(
        api_base_url=base_url,
        accounts_url=base_url,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
    )


def _peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_generate(records: int, seed: int = 7) -> BenchResult:
    """Generate `records` contacts (bodies and times), keeping none of them."""
    gen = Generator(seed=seed, accounts=records // 3 or 1, contacts=records, deals=0)
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(records):
        gen.times(config.CONTACTS, i)
        gen.body(config.CONTACTS, i)
    elapsed = time.perf_counter() - start
    return BenchResult(records, elapsed, time.process_time() - cpu, _peak_rss_mb())


def bench_serve(records: int, seed: int = 7) -> BenchResult:
    """Read `records` (2/5 accounts, 3/5 contacts) from a sandbox process the way a full sync
    does: the real client, both modules at once in two threads, the fields the sync asks for,
    page tokens and restarts past the 100,000-record query limit. The server's CPU per record
    is what the sandbox takes from the machine an extract runs on."""
    accounts = records * 2 // 5
    with sandbox_process(accounts, records - accounts, seed=seed) as (base_url, pid):
        credentials = sandbox_credentials(base_url)

        def read(module: str) -> int:
            client = ZohoCrmClient(credentials)
            return sum(
                len(page) for page in client.iter_pages(module, config.MODULE_FIELDS[module])
            )

        start, cpu, server_cpu = time.perf_counter(), time.process_time(), _cpu_of(pid)
        with ThreadPoolExecutor(max_workers=2) as pool:
            read_counts = list(pool.map(read, (config.ACCOUNTS, config.CONTACTS)))
        seconds = time.perf_counter() - start
        server_cpu = _cpu_of(pid) - server_cpu
        server_rss = _peak_rss_of(pid)
    return BenchResult(
        sum(read_counts),
        seconds,
        time.process_time() - cpu,
        _peak_rss_mb(),
        server_cpu,
        server_rss,
    )


def _peak_rss_of(pid: int) -> float:
    """Peak resident memory of a process in MB (Linux /proc VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
