"""Every domain's ORM models, so `Base.metadata` is complete (Alembic, tests, warehouse)."""

from hub.audit.models import AuditEntry
from hub.catalog.models import Barcode, Category, Product, TaxRate, WeightTemplate
from hub.db import Base, ChangeCounter
from hub.devices.models import Device, PairingCode
from hub.purchasing.models import PurchaseOrder, PurchaseOrderLine, Supplier, SupplierProduct
from hub.reports.models import ReportRecipient
from hub.sales.models import JournalIssue, QuarantinedSale, Sale, SaleLine, SalePayment, TillState
from hub.shifts.models import Shift, ShiftEvent
from hub.staff.models import AccessToken, LoginFailure, User
from hub.stock.models import StockDoc, StockLevel, StockMove
from hub.stores.models import Store

__all__ = [
    "AccessToken",
    "AuditEntry",
    "Barcode",
    "Base",
    "Category",
    "ChangeCounter",
    "Device",
    "JournalIssue",
    "LoginFailure",
    "PairingCode",
    "Product",
    "PurchaseOrder",
    "PurchaseOrderLine",
    "QuarantinedSale",
    "ReportRecipient",
    "Sale",
    "SaleLine",
    "SalePayment",
    "Shift",
    "ShiftEvent",
    "StockDoc",
    "StockLevel",
    "StockMove",
    "Store",
    "Supplier",
    "SupplierProduct",
    "TaxRate",
    "TillState",
    "User",
    "WeightTemplate",
]
