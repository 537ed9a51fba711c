"""The events the dunning functions receive, parsed at the boundary (Powertools parser models)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class PlanEvent(BaseModel):
    """The state machine's Plan task: its own input, the execution's name (the run id) and start time."""

    input: dict[str, Any] = Field(default_factory=dict)
    run_id: str = Field(min_length=1, max_length=80)
    started_at: str | None = None


class DispatchEvent(BaseModel):
    """One Distributed Map item: the run and one batch of customers with their due invoices."""

    run: dict[str, Any]
    batch: dict[str, Any]


class FinishEvent(BaseModel):
    run: dict[str, Any]
    dispatch_error: dict[str, Any] | None = None
