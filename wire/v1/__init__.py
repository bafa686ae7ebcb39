"""Version 1 of the hub<->till schemas. Frozen: change them only by adding a v2."""

from wire.v1.catalog import (
    CashierV1,
    CatalogDelta,
    CategoryV1,
    ProductV1,
    StoreV1,
    TaxRateV1,
    Unit,
    WeightTemplateV1,
)
from wire.v1.results import ErrorV1, ResultStatus
from wire.v1.sales import (
    PaymentV1,
    SaleDigest,
    SaleLineV1,
    SaleResult,
    SalesBatch,
    SalesBatchResult,
    SaleV1,
    Tender,
    reconcile_sale,
    sale_digest,
    sale_hash,
    verify_hash,
)
from wire.v1.shifts import (
    ShiftEventResult,
    ShiftEventsBatch,
    ShiftEventsBatchResult,
    ShiftEventV1,
)

__all__ = [
    "CashierV1",
    "CatalogDelta",
    "CategoryV1",
    "ErrorV1",
    "PaymentV1",
    "ProductV1",
    "ResultStatus",
    "SaleDigest",
    "SaleLineV1",
    "SaleResult",
    "SaleV1",
    "SalesBatch",
    "SalesBatchResult",
    "ShiftEventResult",
    "ShiftEventV1",
    "ShiftEventsBatch",
    "ShiftEventsBatchResult",
    "StoreV1",
    "TaxRateV1",
    "Tender",
    "Unit",
    "WeightTemplateV1",
    "reconcile_sale",
    "sale_digest",
    "sale_hash",
    "verify_hash",
]
