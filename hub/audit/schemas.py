from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: dt.datetime
    actor_kind: str
    actor_id: int | None
    actor_label: str
    action: str
    entity: str
    entity_id: str | None
    store_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    ip: str | None
