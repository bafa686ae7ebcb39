from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from hub.access import DbDep, DeviceDep
from hub.errors import responses
from hub.feed import service
from hub.http import KassaRoute
from wire.v1 import CatalogDelta

router = APIRouter(tags=["till"], route_class=KassaRoute)


@router.get(
    "/api/v1/till/catalog",
    response_model=CatalogDelta,
    responses={
        304: {"description": "Nothing changed since the ETag in If-None-Match"},
        **responses(401, 403, 409, 422),
    },
)
def catalog_feed(
    db: DbDep,
    device: DeviceDep,
    request: Request,
    cursor: Annotated[
        int, Query(ge=0, le=2**63 - 1, description="next_cursor of the last page")
    ] = 0,
    limit: Annotated[int | None, Query(ge=1, le=50_000)] = None,
    if_none_match: Annotated[str | None, Header(max_length=500)] = None,
) -> Response:
    """Everything this till's store needs that changed after `cursor`, oldest change first.

    Follow `next_cursor` while `has_more`; then poll with the last `next_cursor` and the last
    ETag in If-None-Match: 304 while nothing changed. A cursor ahead of the hub (restored from a
    backup) is a 409: reload from cursor 0.
    """
    assert device.store_id is not None
    page_size = limit or request.app.state.settings.feed_page_size
    with db.read() as s:
        page = service.build_page(
            s,
            store_id=device.store_id,
            cursor=cursor,
            limit=page_size,
            if_none_match=if_none_match,
        )
    headers = {"ETag": page.etag, "Cache-Control": "private, no-cache"}
    if page.delta is None:
        return Response(status_code=304, headers=headers)
    return Response(
        content=page.delta.model_dump_json(), media_type="application/json", headers=headers
    )
