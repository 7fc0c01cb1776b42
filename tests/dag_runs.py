"""Drive the real DAGs from dags/ with dag.test() and report their run and task states."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from tests.conftest import ROOT


@dataclass
class RunOutcome:
    state: str
    task_states: dict[str, str]
    run_id: str
    # try_number per task: 1 means it ran once, without a retry.
    tries: dict[str, int] = field(default_factory=dict)

    @property
    def failed_tasks(self) -> list[str]:
        return [t for t, s in self.task_states.items() if s in {"failed", "upstream_failed"}]


@cache
def _dagbag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def run_dag(
    dag_id: str,
    logical_date: datetime,
    conf: dict[str, Any] | None = None,
    *,
    retry_delay: timedelta | None = None,
    run_after: datetime | None = None,
    mark_success: str | None = None,
) -> RunOutcome:
    """One run of a project DAG, in process; dag.test() logs task failures, so states are returned.

    With ``retry_delay`` the DAG keeps its own retries, each after that (short) delay, so a test
    can tell a failure that is retried from one that fails at once.

    dag.test() replaces an earlier run of the same logical date; its run_id is made from
    ``run_after`` (default: now), so passing the ``run_after`` of that earlier run re-runs it under
    the same run_id, as clearing the run in the UI does. ``mark_success`` (a regex of task ids)
    marks those tasks successful without running them: only the others run, as when just they are
    cleared."""
    bag = _dagbag()
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag(dag_id)
    retrying = {
        t.task_id: (t.retries, t.retry_delay, t.retry_exponential_backoff) for t in dag.tasks
    }
    for task in dag.tasks:
        if retry_delay is None:
            # dag.test() waits out retry delays; a test wants the first failure, not three.
            task.retries = 0
        else:
            task.retry_delay, task.retry_exponential_backoff = retry_delay, 0
    # dag.test() writes the run's conf into the (cached) DAG's params; restore them afterwards so
    # one run's conf never leaks into the next.
    saved = copy.deepcopy(dag.params), {t.task_id: copy.deepcopy(t.params) for t in dag.tasks}
    try:
        dag_run = dag.test(
            logical_date=logical_date,
            run_after=run_after,
            run_conf=conf or {},
            mark_success_pattern=mark_success,
        )
    finally:
        dag.params = saved[0]
        for task in dag.tasks:
            task.params = saved[1][task.task_id]
            task.retries, task.retry_delay, task.retry_exponential_backoff = retrying[task.task_id]
    tis = dag_run.get_task_instances()
    return RunOutcome(
        state=str(dag_run.state),
        task_states={ti.task_id: str(ti.state) for ti in tis},
        run_id=dag_run.run_id,
        tries={ti.task_id: int(ti.try_number) for ti in tis},
    )
