from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from hub.text import Code, Name
from wire.types import Id


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PairingCodeCreate(_In):
    device_name: Name = "Касса"
    replaces_device_id: Id | None = Field(
        default=None,
        description="Re-pairing a till of this store (new disk, revoked token): the new device "
        "continues that device's journal, so its sales are not reported missing",
    )


class PairingCodeOut(BaseModel):
    code: str
    store_id: int
    device_name: str
    expires_at: dt.datetime
    replaces_device_id: int | None = None


class PairRequest(_In):
    code: Annotated[str, StringConstraints(min_length=4, max_length=32)]
    version: Code | None = None


class PairResponse(BaseModel):
    device_id: int
    store_id: int
    name: str
    token: str


class DeviceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    store_id: int
    name: str
    paired_at: dt.datetime
    revoked_at: dt.datetime | None
    last_seen_at: dt.datetime | None
    last_version: str | None
    replaces_device_id: int | None
