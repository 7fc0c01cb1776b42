"""`python -m devtools.bench.incremental_extract`: the 1 % incremental extract alone, at a small
size on the zoho profile, with its ratio to the bound, the ids check and the call timeline."""

from __future__ import annotations

import pytest

from devtools.bench.incremental_extract import main
from devtools.bench.usage import Call, utilisation


def test_the_harness_reads_every_changed_record_once_and_reports_the_timeline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--records", "3000", "--runs", "1", "--timeline"]) == 0

    out = capsys.readouterr().out
    assert "ids: yes: Accounts" in out  # every changed id read, none twice
    assert "peak in flight 4" in out  # both processes share the client's 4 slots
    assert "utilisation; below the cap" in out
    assert "Accounts count" in out and "Contacts deleted p1" in out  # one line a call
    assert "ratios to the bound: " in out


def test_utilisation_is_call_seconds_over_slots_times_wall() -> None:
    calls = [Call(0.0, 1.0, "a"), Call(0.0, 1.0, "b"), Call(1.0, 2.0, "c")]

    used = utilisation(calls, slots=2, wall=2.0)

    assert used.ratio == pytest.approx(0.75)
    assert used.below == {1: pytest.approx(1.0)}  # the second second had one call in flight
