"""Drive the real DAGs from dags/ with dag.test() and report their run and task states."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from tests.conftest import ROOT


@dataclass
class RunOutcome:
    state: str
    task_states: dict[str, str]
    run_id: str

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
    run_after: datetime | None = None,
    mark_success: str | None = None,
) -> RunOutcome:
    """One run of a project DAG, in process; dag.test() logs task failures, so states are returned.

    dag.test() replaces an earlier run of the same logical date; its run_id is made from
    ``run_after`` (default: now), so passing the ``run_after`` of that earlier run re-runs it under
    the same run_id, as clearing the run in the UI does. ``mark_success`` (a regex of task ids)
    marks those tasks successful without running them: only the others run, as when just they are
    cleared."""
    bag = _dagbag()
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag(dag_id)
    # dag.test() waits out retry delays; a test wants the first failure, not three.
    for task in dag.tasks:
        task.retries = 0
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
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    return RunOutcome(state=str(dag_run.state), task_states=states, run_id=dag_run.run_id)
