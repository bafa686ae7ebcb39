"""Per-item outcomes the hub returns for uploaded batches."""

from typing import Literal

from wire.types import WireModel

ResultStatus = Literal["created", "duplicate", "conflict", "rejected"]


class ErrorV1(WireModel):
    """A problem with an uploaded item; `field` is a dotted path like 'lines.2.amount_minor'."""

    field: str
    code: str
    message: str
    expected: str | None = None
    actual: str | None = None
