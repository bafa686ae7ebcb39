from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from hub.text import Email, Name, Secret

Role = Literal["owner", "manager", "cashier"]
# Service accounts (machines) are made by `kassa hub service-token`, never through the API.
AnyRole = Literal["owner", "manager", "cashier", "service"]
Pin = Annotated[str, StringConstraints(pattern=r"^[0-9]{4,8}$")]
DiscountBp = Annotated[int, Field(strict=True, ge=0, le=10000)]
MIN_PASSWORD = 12


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserCreate(_In):
    name: Name
    role: Role
    store_id: Annotated[int, Field(strict=True, ge=1, le=2**63 - 1)] | None = None
    email: Email | None = None
    password: Secret | None = Field(default=None, min_length=MIN_PASSWORD)
    pin: Pin | None = None
    max_discount_bp: DiscountBp = 0
    can_edit_catalog: bool = Field(default=False, description="Owners only (managers)")


class UserUpdate(_In):
    name: Name | None = None
    active: bool | None = None
    max_discount_bp: DiscountBp | None = None
    can_edit_catalog: bool | None = Field(default=None, description="Owners only (managers)")
    password: Secret | None = Field(default=None, min_length=MIN_PASSWORD)
    current_password: Secret | None = Field(
        default=None, description="Required when you change your own password"
    )


class PinSet(_In):
    pin: Pin


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    email: str | None
    role: AnyRole
    store_id: int | None
    max_discount_bp: int
    can_edit_catalog: bool
    active: bool
    has_pin: bool
    created_at: dt.datetime


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int | None


class SessionOut(BaseModel):
    csrf_token: str
    user: UserOut


class ApiTokenCreate(_In):
    name: Name
    days: Annotated[int, Field(strict=True, ge=1, le=3650)] | None = None


class ServiceTokenCreate(_In):
    """`kassa hub service-token`: the service account's name and the token's lifetime."""

    name: Name
    days: Annotated[int, Field(strict=True, ge=1, le=3650)] | None = None


class ApiTokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class ApiTokenCreated(ApiTokenOut):
    token: str = Field(description="Shown once; only its hash is stored.")
