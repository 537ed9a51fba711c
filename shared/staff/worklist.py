"""The collectors' tasks: the open ones ranked (`arcollect worklist`, `GET /staff/worklist`) and one by id.

Open tasks are read from the sharded open-tasks index, every shard, then ranked here: highest score first,
then the earliest due, then the id, so two readers of the same tasks see the same order."""

from __future__ import annotations

from typing import Any

from shared.data.tables import OPEN_TASK_SHARDS, TaskRecord
from shared.errors import NotFoundError
from shared.staff.models import TaskView


def open_tasks(limit: int) -> list[TaskRecord]:
    tasks: list[TaskRecord] = []
    for shard in (f"s{n:02d}" for n in range(OPEN_TASK_SHARDS)):
        tasks.extend(TaskRecord.open_tasks_index.query(shard, scan_index_forward=False))
    tasks.sort(key=lambda t: (-(t.score or 0), t.due, t.task_id))
    return tasks[:limit]


def task_json(task: TaskRecord) -> dict[str, Any]:
    return {
        "task_id": task.task_id,
        "kind": task.kind,
        "customer_id": task.customer_id,
        "invoice_ids": list(task.invoice_ids or []),
        "due": task.due,
        "score": task.score or 0,
        "reason": task.reason,
        "created_at": task.created_at.isoformat() if task.created_at else None,
    }


def task_view(task: TaskRecord) -> TaskView:
    return TaskView(
        **task_json(task),
        status=task.status,
        outcome=task.outcome,
        closed_at=task.closed_at,
    )


def task_of(task_id: str) -> TaskView:
    try:
        return task_view(TaskRecord.get(task_id, consistent_read=True))
    except TaskRecord.DoesNotExist:
        raise NotFoundError(f"task {task_id} is not known") from None
