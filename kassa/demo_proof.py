"""Proving the seeded demo hub over real HTTP: a paired till pulls the feed, the owner signs in."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from hub.catalog.models import Barcode
from hub.db import Database
from hub.settings import Settings
from kassa.demo_seed import Login, Till
from wire.barcodes import WeightTemplate as LabelTemplate
from wire.barcodes import decode_weighted, ean_check_digit
from wire.money import Money, line_amount_minor
from wire.v1 import CatalogDelta


@dataclass
class FeedProof:
    """What one till received from the feed, over HTTP."""

    pages: int = 0
    product_ids: set[int] = field(default_factory=set)
    categories: int = 0
    cashiers: int = 0  # active, with a PIN: who can sign in at this till
    seconds: float = 0.0
    not_modified: bool = False  # a poll with the last ETag answered 304
    label: str = ""  # a weighted scale label decoded with what the feed delivered


def _feed_pages(client: Any, token: str, cursor: int = 0) -> Iterator[tuple[CatalogDelta, str]]:
    """Follow the till feed from `cursor` while `has_more`: (delta, ETag) per page."""
    headers = {"Authorization": f"Bearer {token}"}
    while True:
        response = client.get("/api/v1/till/catalog", params={"cursor": cursor}, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"catalog feed answered {response.status_code}: {response.text}")
        delta = CatalogDelta.model_validate_json(response.content)
        yield delta, response.headers["ETag"]
        cursor = delta.next_cursor
        if not delta.has_more:
            return


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve `app` with uvicorn on a free port of 127.0.0.1 in a thread; yields the base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the hub did not start: see the log above")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def _poll(client: Any, token: str, cursor: int, etag: str) -> tuple[int, str]:
    response = client.get(
        "/api/v1/till/catalog",
        params={"cursor": cursor},
        headers={"Authorization": f"Bearer {token}", "If-None-Match": etag},
    )
    return response.status_code, response.headers.get("ETag", "")


def prove(
    settings: Settings, db: Database, till: Till, owner: Login
) -> tuple[FeedProof, list[str], str]:
    """Over real HTTP: the till pulls the whole feed, then polls; the owner signs in."""
    import httpx

    from hub.app import create_app

    proof = FeedProof()
    templates: list[LabelTemplate] = []
    weighted: list[Any] = []
    with (
        serving(create_app(settings, db)) as base_url,
        httpx.Client(base_url=base_url, timeout=60) as client,
    ):
        began = time.perf_counter()
        cursor, etag = 0, ""
        for delta, page_etag in _feed_pages(client, till.token):
            proof.pages += 1
            proof.product_ids.update(p.id for p in delta.products)
            proof.categories += len(delta.categories)
            proof.cashiers += sum(1 for c in delta.cashiers if c.active and c.pin_hash)
            templates += [LabelTemplate(t.id, t.pattern) for t in delta.weight_templates]
            weighted += [p for p in delta.products if p.scale_code is not None]
            cursor, etag = delta.next_cursor, page_etag
        proof.seconds = time.perf_counter() - began
        # A till then polls from its last cursor with the last ETag: nothing changed -> 304.
        status, _ = _poll(client, till.token, cursor, etag)
        proof.not_modified = status == 304
        proof.label = _decode_label(templates, weighted)

        signed_in = client.post(
            "/api/v1/auth/token", data={"username": owner.login, "password": owner.secret}
        )
        if signed_in.status_code != 200:
            raise RuntimeError(f"the owner cannot sign in: {signed_in.text}")
        bearer = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
        listed = client.get("/api/v1/stores", headers=bearer)
        listed.raise_for_status()
        seen = [store["name"] for store in listed.json()]
        lookup = _barcode_lookup(client, db, bearer)
    return proof, seen, lookup


def _decode_label(templates: list[LabelTemplate], weighted: list[Any]) -> str:
    """Print a scale label for 734 g of the first weighted product and decode it like a till."""
    if not templates or not weighted:
        return "no weighted goods"
    product = weighted[0]
    body = "22" + f"{int(product.scale_code):05d}" + "00734"
    label = body + str(ean_check_digit(body))
    match = decode_weighted(label, templates)
    if match is None or match.qty_milli is None:
        return f"label {label} did not decode"
    found = next(p for p in weighted if int(p.scale_code) == int(match.scale_code))
    amount = Money(line_amount_minor(match.qty_milli, found.price_minor), "RUB")
    price = Money(found.price_minor, "RUB")
    kg = f"{match.qty_milli // 1000},{match.qty_milli % 1000:03d}"
    return f"{label} -> {found.name}: {kg} кг x {price.format()}/кг = {amount.format()}"


def _barcode_lookup(client: Any, db: Database, bearer: dict[str, str]) -> str:
    with db.read() as s:
        code = s.scalars(select(Barcode.code).order_by(Barcode.code).limit(1)).one()
    found = client.get("/api/v1/catalog/products", params={"q": code}, headers=bearer)
    found.raise_for_status()
    items = found.json()["items"]
    if len(items) != 1:
        raise RuntimeError(f"barcode {code} found {len(items)} products")
    price = Money(items[0]["price_minor"], "RUB").format()
    return f"{code} -> {items[0]['name']}, {price}"
