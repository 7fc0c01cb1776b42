"""The benchmark's memory measure: forked workers' shared pages are counted once (PSS), not once
per process as summed VmRSS counts them (issue 16)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from devtools.bench.measure import RssSampler

pytestmark = pytest.mark.skipif(
    not os.path.exists("/proc/self/smaps_rollup"), reason="needs Linux /proc smaps_rollup"
)

SHARED_MB = 200


def test_a_forked_workers_shared_pages_count_once_in_the_peak() -> None:
    block = bytearray(SHARED_MB * 1024 * 1024)
    for i in range(0, len(block), 4096):  # touch every page, so it is resident before the fork
        block[i] = 1
    with RssSampler(interval=0.01, pss_every=2) as sampler:
        sampler.reset()
        before = sampler.peak()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: same command line, the parent's pages shared copy-on-write
            os.close(read)
            os.write(write, b"x")
            time.sleep(30)
            os._exit(0)
        try:
            os.close(write)
            assert os.read(read, 1) == b"x"
            time.sleep(0.3)  # several samples with the worker alive
            peak = sampler.peak()
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    del block
    # VmRSS summed counts the shared block twice; PSS splits it between the two processes.
    assert peak.rss - before.rss > 0.9 * SHARED_MB
    assert peak.pss - before.pss < 0.2 * SHARED_MB
    assert peak.mb == peak.pss
