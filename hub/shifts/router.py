from __future__ import annotations

from fastapi import APIRouter

from hub.http import KassaRoute

router = APIRouter(tags=["shifts"], route_class=KassaRoute)
