"""Stop moto from keeping every object it ever made, so a long-running local system does not grow without
bound.

For its dashboard (`/moto-api/data.json`), moto appends every model instance it creates to a class-level
list and never lets go until `/moto-api/reset`. Every DynamoDB write makes a new `Item`, and every
TransactWriteItems copies the tables it touches (`Table`), so an import leaves all the replaced items and
transaction backups reachable: measured at ~74 MB per 1,000 imported invoices, against ~8 MB for the items
that are really stored. Nothing in arcollect reads the dashboard (the outbox reads the SES/SNS backends).

PIN-SENSITIVE: `moto.core.common_models.BaseModel.__new__` and its `instances_tracked` lists are private
moto API (checked against moto 5.2.5). Touched here and nowhere else; tests/integration/test_local_memory.py
proves replaced items are no longer kept.
"""

from __future__ import annotations

from typing import Any

_original_new: Any = None


def _untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    return object.__new__(cls)


def install() -> None:
    """Idempotent. Objects made from now on are not tracked; call `forget_tracked` to drop those that are."""
    global _original_new
    from moto.core.common_models import BaseModel

    if _original_new is None:
        _original_new = BaseModel.__dict__["__new__"]
        BaseModel.__new__ = staticmethod(_untracked_new)  # type: ignore[method-assign]
    forget_tracked()


def forget_tracked() -> None:
    """Drop moto's references to the objects it tracked so far (what `/moto-api/reset` also does)."""
    from moto.core.model_instances import reset_model_data

    reset_model_data()


def uninstall() -> None:
    global _original_new
    from moto.core.common_models import BaseModel

    if _original_new is not None:
        BaseModel.__new__ = _original_new  # type: ignore[method-assign]
        _original_new = None
