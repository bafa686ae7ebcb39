from __future__ import annotations

from fastapi import APIRouter, Request

from hub import access
from hub.access import DbDep, DeviceDep, StoreManagerDep, client_ip
from hub.devices import service
from hub.devices.schemas import (
    DeviceOut,
    PairingCodeCreate,
    PairingCodeOut,
    PairRequest,
    PairResponse,
)
from hub.errors import responses
from hub.http import IdPath, KassaRoute

router = APIRouter(tags=["devices"], route_class=KassaRoute)
WRITE_ERRORS = responses(400, 401, 403, 404, 413, 415, 422)


@router.post("/api/v1/stores/{store_id}/pairing-codes", status_code=201, responses=WRITE_ERRORS)
def create_pairing_code(
    store_id: IdPath,
    body: PairingCodeCreate,
    db: DbDep,
    actor: StoreManagerDep,
    request: Request,
) -> PairingCodeOut:
    """A one-time code to pair a till with this store (valid KASSA_PAIRING_CODE_MINUTES)."""
    minutes = request.app.state.settings.pairing_code_minutes
    with db.write() as s:
        code, row = service.create_pairing_code(
            s,
            actor=actor,
            store_id=store_id,
            device_name=body.device_name,
            minutes=minutes,
            replaces_device_id=body.replaces_device_id,
        )
        return PairingCodeOut(
            code=code,
            store_id=store_id,
            device_name=row.device_name,
            expires_at=row.expires_at,
            replaces_device_id=row.replaces_device_id,
        )


@router.post(
    "/api/v1/devices/pair",
    status_code=201,
    dependencies=[access.Public],
    responses=responses(400, 413, 415, 422, 429),
)
def pair(body: PairRequest, db: DbDep, request: Request) -> PairResponse:
    """The till trades its one-time code for a device token (>= 256 bits, shown once)."""
    token, device = service.pair(
        db,
        code=body.code,
        version=body.version,
        ip=client_ip(request),
        window_seconds=request.app.state.settings.login_window_seconds,
    )
    return PairResponse(
        device_id=device.id, store_id=device.store_id, name=device.name, token=token
    )


@router.get("/api/v1/stores/{store_id}/devices", responses=responses(401, 403, 404, 422))
def list_devices(store_id: IdPath, db: DbDep, actor: StoreManagerDep) -> list[DeviceOut]:
    """The store's tills with their last contact and version."""
    with db.read() as s:
        return [DeviceOut.model_validate(d) for d in service.list_devices(s, store_id=store_id)]


@router.post(
    "/api/v1/stores/{store_id}/devices/{device_id}/revoke", responses=responses(401, 403, 404, 422)
)
def revoke_device(
    store_id: IdPath, device_id: IdPath, db: DbDep, actor: StoreManagerDep
) -> DeviceOut:
    """Revoke a till's token at once; the till keeps its data and asks to be re-paired."""
    with db.write() as s:
        return DeviceOut.model_validate(
            service.revoke(s, actor=actor, store_id=store_id, device_id=device_id)
        )


@router.get("/api/v1/till/device", responses=responses(401, 403))
def whoami(db: DbDep, device: DeviceDep) -> DeviceOut:
    """The calling till's own record (a cheap check that its token still works)."""
    with db.read() as s:
        return DeviceOut.model_validate(service.get_device(s, device_id=device.id))
