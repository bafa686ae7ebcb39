"""Every domain's ORM models, so `Base.metadata` is complete (Alembic, tests, warehouse)."""

from hub.audit.models import AuditEntry
from hub.catalog.models import Barcode, Category, Product, TaxRate, WeightTemplate
from hub.db import Base, ChangeCounter
from hub.devices.models import Device, PairingCode
from hub.staff.models import AccessToken, LoginFailure, User
from hub.stores.models import Store

__all__ = [
    "AccessToken",
    "AuditEntry",
    "Barcode",
    "Base",
    "Category",
    "ChangeCounter",
    "Device",
    "LoginFailure",
    "PairingCode",
    "Product",
    "Store",
    "TaxRate",
    "User",
    "WeightTemplate",
]
