"""Tasks for the collectors' worklist, created once: a task's id says what, for whom and which day, and it is
written only if absent, so a re-run or a retry never makes a second one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from shared.data.tables import OPEN_TASK_SHARDS, TaskRecord, shard_of

# Ranking comes with the worklist issue; until then tasks sort by due date (score 0).
UNRANKED = 0


def new_task(
    task_id: str,
    *,
    customer_id: str,
    kind: str,
    invoice_ids: Sequence[str],
    due: str,
    reason: str,
    now: datetime,
    score: int = UNRANKED,
) -> TaskRecord:
    return TaskRecord(
        task_id,
        customer_id=customer_id,
        kind=kind,
        invoice_ids=list(invoice_ids),
        due=due,
        score=score,
        reason=reason[:500],
        status="open",
        open_shard=shard_of(task_id, OPEN_TASK_SHARDS),
        score_key=f"{score:012d}#{task_id}",
        created_at=now,
    )
