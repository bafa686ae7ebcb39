"""Who is calling: a signed-in person or a paired till (no domain imports: any may use it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Principal:
    kind: Literal["user", "device"]
    id: int
    role: str | None  # owner | manager | cashier | service for users; None for devices
    store_id: int | None
    label: str
    via: str  # session | bearer | api | device
    token_id: int | None = None
    ip: str | None = None
    can_edit_catalog: bool = False

    @property
    def is_owner(self) -> bool:
        return self.kind == "user" and self.role == "owner"

    @property
    def is_service(self) -> bool:
        """A service account: a machine (e.g. the reorder flow), not a person."""
        return self.kind == "user" and self.role == "service"

    @property
    def sees_every_store(self) -> bool:
        return self.is_owner or self.is_service

    @property
    def may_edit_catalog(self) -> bool:
        return self.is_owner or (self.role == "manager" and self.can_edit_catalog)

    def may_manage_store(self, store_id: int) -> bool:
        return self.is_owner or (self.role == "manager" and self.store_id == store_id)
