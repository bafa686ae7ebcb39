"""Catalog test fixtures: `api`, a helper signed in as the owner, and `counts`, the rows per
table for "nothing was written" checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.audit.models import AuditEntry
from hub.catalog.models import Barcode, Category, Product, TaxRate, WeightTemplate
from hub.db import current_change_seq
from wire.barcodes import ean_check_digit

BASE = "/api/v1/catalog"


@dataclass
class Api:
    client: Any
    headers: dict[str, str]
    base: str = BASE

    @staticmethod
    def ean13(body: str) -> str:
        """A valid EAN-13 from 12 digits."""
        return body + str(ean_check_digit(body))

    def as_(self, headers: dict[str, str]) -> Api:
        return Api(self.client, headers)

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(BASE + path, params=params, headers=self.headers)

    def post(self, path: str, body: Any, status: int | None = None) -> Any:
        response = self.client.post(BASE + path, json=body, headers=self.headers)
        if status is not None:
            assert response.status_code == status, response.text
        return response

    def patch(self, path: str, body: Any, status: int | None = None) -> Any:
        response = self.client.patch(BASE + path, json=body, headers=self.headers)
        if status is not None:
            assert response.status_code == status, response.text
        return response

    def tax(self, code: str = "vat22", rate_bp: int | None = 2200) -> dict[str, Any]:
        body = {"code": code, "name": f"НДС {code}", "rate_bp": rate_bp}
        return self.post("/tax-rates", body, 201).json()  # type: ignore[no-any-return]

    def category(self, name: str, parent_id: int | None = None) -> dict[str, Any]:
        body = {"name": name, "parent_id": parent_id}
        return self.post("/categories", body, 201).json()  # type: ignore[no-any-return]

    def product(self, tax_rate_id: int, /, **fields: Any) -> dict[str, Any]:
        body = {
            "sku": "SKU-1",
            "name": "Молоко 3,2% 1 л",
            "unit": "piece",
            "price_minor": 8990,
            "tax_rate_id": tax_rate_id,
        }
        return self.post("/products", {**body, **fields}, 201).json()  # type: ignore[no-any-return]

    def upload(self, content: bytes, filename: str, *, dry_run: bool = True) -> Any:
        return self.client.post(
            BASE + "/import",
            params={"dry_run": str(dry_run).lower()},
            files={"file": (filename, content, "application/octet-stream")},
            headers=self.headers,
        )


@pytest.fixture
def api(client: Any, world: Any) -> Api:
    return Api(client, world.headers("owner"))


@pytest.fixture
def counts(db: Any) -> Callable[[], dict[str, int]]:
    return lambda: _counts(db)


def _counts(db: Any) -> dict[str, int]:
    """Rows per catalog table, the audit log, and the change counter."""
    with db.read() as s:
        tables = {
            "tax_rate": TaxRate,
            "category": Category,
            "product": Product,
            "barcode": Barcode,
            "weight_template": WeightTemplate,
            "audit_log": AuditEntry,
        }
        result = {name: s.scalar(select(func.count()).select_from(m)) for name, m in tables.items()}
        result["change_seq"] = current_change_seq(s)
        return result  # type: ignore[return-value]
