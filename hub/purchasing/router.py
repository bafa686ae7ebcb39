from __future__ import annotations

from fastapi import APIRouter

from hub.http import KassaRoute

router = APIRouter(tags=["purchasing"], route_class=KassaRoute)
