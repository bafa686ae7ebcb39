"""The till side of the catalog-sync benchmark: follow the feed and parse it as a till does."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx

from wire.v1 import CatalogDelta

FEED = "/api/v1/till/catalog"


@dataclass
class Fetch:
    """What one pass over the feed returned."""

    seconds: float = 0.0
    parse_seconds: float = 0.0
    pages: int = 0
    size: int = 0  # bytes of JSON
    product_ids: list[int] = field(default_factory=list)
    categories: int = 0
    cashiers: int = 0
    next_cursor: int = 0
    etag: str = ""
    bodies: list[bytes] = field(default_factory=list)


def fetch(
    client: httpx.Client, cursor: int = 0, *, limit: int | None = None, keep: bool = False
) -> Fetch:
    """Follow the feed from `cursor` while `has_more`, parsing each page like a till."""
    result = Fetch(next_cursor=cursor)
    params: dict[str, int] = {} if limit is None else {"limit": limit}
    began = time.perf_counter()
    while True:
        response = client.get(FEED, params={"cursor": result.next_cursor, **params})
        response.raise_for_status()
        parse_began = time.perf_counter()
        delta = CatalogDelta.model_validate_json(response.content)
        result.parse_seconds += time.perf_counter() - parse_began
        result.pages += 1
        result.size += len(response.content)
        result.product_ids += [p.id for p in delta.products]
        result.categories += len(delta.categories)
        result.cashiers += len(delta.cashiers)
        result.next_cursor = delta.next_cursor
        result.etag = response.headers["ETag"]
        if keep:
            result.bodies.append(response.content)
        if not delta.has_more:
            break
    result.seconds = time.perf_counter() - began
    return result


def till_client(base_url: str, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}", "X-Kassa-Version": "bench"},
        timeout=120,
    )
