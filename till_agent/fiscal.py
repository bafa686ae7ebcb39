"""The seam for Russian 54-FZ fiscal registrars (ККТ with a fiscal drive, ФН).

Out of scope for now: the only device is `NoFiscal`, which registers nothing, so every sale goes
to the hub with `fn_number`, `fd_number` and `fpd` set to null (wire.v1 `SaleV1` allows that).
A real driver (ATOL, Shtrih-M, ...) implements `FiscalDevice` and is added to `FISCAL_KINDS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

FISCAL_KINDS = ("none",)


@dataclass(frozen=True, slots=True)
class FiscalAttrs:
    """What the registrar returns for a registered receipt, as SaleV1 carries it.

    `fn_number`: the fiscal drive's serial number (16 digits), `fd_number`: the fiscal document
    number, `fpd`: the fiscal sign of the document (up to 10 digits). All null without a registrar.
    """

    fn_number: str | None = None
    fd_number: int | None = None
    fpd: str | None = None


class FiscalDevice(Protocol):
    def register(self, sale_draft: dict[str, Any]) -> FiscalAttrs | None:
        """Register the receipt with the fiscal registrar; None when the till has no registrar."""
        ...

    def status(self) -> str:
        """A short human-readable state for the till's status line."""
        ...


class NoFiscal:
    """No fiscal registrar: nothing is registered, sales carry null fiscal attributes."""

    kind = "none"

    def register(self, sale_draft: dict[str, Any]) -> FiscalAttrs | None:
        return None

    def status(self) -> str:
        return "no fiscal registrar"


class UnknownFiscalKind(ValueError):
    """The configured `[fiscal] kind` names no supported registrar."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        supported = ", ".join(f'"{k}"' for k in FISCAL_KINDS)
        super().__init__(
            f'unknown fiscal registrar kind "{kind}": supported: {supported} '
            "(54-FZ registrars are not supported yet)"
        )


def fiscal_device(kind: str) -> FiscalDevice:
    """The fiscal device for `[fiscal] kind`; raises `UnknownFiscalKind` (a ValueError)."""
    if kind == "none":
        return NoFiscal()
    raise UnknownFiscalKind(kind)
