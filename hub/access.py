"""Who is calling, and the policy every route declares.

Each route depends on exactly one policy dependency from this module. The dependencies carry a
`__kassa_policy__` name; a test walks `app.routes` and fails on a route without one.

Policies: public, staff (any signed-in person, cashiers included), manager (owner or a manager
of any store: reads the chain-wide catalog), catalog_editor (owners, and managers an owner
allowed: edits the catalog), owner, store_manager (owner, or the manager of the `store_id` in
the path), device (a paired, unrevoked till; its store comes from the token).

A service account (role `service`: a machine such as the reorder flow, holding only API tokens)
is refused by all of those; only the `..._or_service` policies let it in: staff_or_service
(the store list), owner_or_service (report recipients), store_manager_or_service (a store's
purchase orders: drafts, list, one order).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import select, update

from hub.db import Database, utcnow
from hub.devices.models import Device
from hub.errors import ApiError
from hub.principal import Principal
from hub.staff import security
from hub.staff.models import AccessToken, User

SESSION_COOKIE = "__Host-kassa_session"
DEV_SESSION_COOKIE = "kassa_session"  # when cookie_secure is off (plain-http development)
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
LAST_SEEN_EVERY = dt.timedelta(seconds=60)


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


DbDep = Annotated[Database, Depends(get_db)]


def session_cookie_name(secure: bool) -> str:
    """`__Host-` cookies need HTTPS; the plain name exists only for local plain-http development
    and is never read when cookies are secure (a sibling subdomain could plant it)."""
    return SESSION_COOKIE if secure else DEV_SESSION_COOKIE


def _unauthenticated(message: str = "sign in or send a valid bearer token") -> ApiError:
    return ApiError(401, "not_authenticated", message, headers={"WWW-Authenticate": "Bearer"})


def _forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def _authenticate(request: Request, db: Database) -> Principal | None:
    if (cached := getattr(request.state, "principal", None)) is not None:
        return cached  # type: ignore[no-any-return]
    token = _bearer(request)
    via_cookie = False
    if token is None:
        token = request.cookies.get(session_cookie_name(request.app.state.settings.cookie_secure))
        via_cookie = token is not None
    if token is None:
        return None
    now = utcnow()
    digest = security.token_hash(token)
    if token.startswith(security.DEVICE_PREFIX):
        principal = _device_principal(request, db, digest, now)
    else:
        principal = _user_principal(request, db, digest, now, via_cookie=via_cookie)
    request.state.principal = principal
    return principal


JOURNAL_HEADER = "x-kassa-journal"
_MAX_SEQ = 2**63 - 1


def journal_head(value: str | None) -> tuple[int, int] | None:
    """`X-Kassa-Journal: sale=123;shift=45`: the highest sale and shift-event seq the till has
    committed. Anything else is ignored (it is a report, not a request to refuse)."""
    if not value or len(value) > 64:
        return None
    parts = dict(part.partition("=")[::2] for part in value.replace(" ", "").split(";"))
    try:
        sale, shift = int(parts["sale"]), int(parts["shift"])
    except (KeyError, ValueError):
        return None
    if not (0 <= sale <= _MAX_SEQ and 0 <= shift <= _MAX_SEQ):
        return None
    return sale, shift


def _device_principal(request: Request, db: Database, digest: str, now: dt.datetime) -> Principal:
    with db.read() as s:
        device = s.scalars(select(Device).where(Device.token_hash == digest)).one_or_none()
    if device is None:
        raise _unauthenticated("unknown device token: pair this till again")
    if device.revoked_at is not None:
        raise ApiError(
            401,
            "device_revoked",
            "this till's token was revoked: re-pair it with a new code (its data is kept)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    version = (request.headers.get("x-kassa-version") or "")[:64] or device.last_version
    head = journal_head(request.headers.get(JOURNAL_HEADER))
    changed_head = head is not None and head != (device.journal_sale_seq, device.journal_shift_seq)
    if (
        device.last_seen_at is None
        or now - device.last_seen_at > LAST_SEEN_EVERY
        or version != device.last_version
        or changed_head
    ):
        values: dict[str, Any] = {"last_seen_at": now, "last_version": version}
        if head is not None:  # the till's journal went this far just now (the quality gate)
            values.update(journal_sale_seq=head[0], journal_shift_seq=head[1])
            values["journal_reported_at"] = now
        with db.write() as s:
            s.execute(update(Device).where(Device.id == device.id).values(**values))
    return Principal(
        "device", device.id, None, device.store_id, device.name, "device", ip=client_ip(request)
    )


def _user_principal(
    request: Request, db: Database, digest: str, now: dt.datetime, *, via_cookie: bool
) -> Principal:
    with db.read() as s:
        row = s.execute(
            select(AccessToken, User)
            .join(User, User.id == AccessToken.user_id)
            .where(AccessToken.token_hash == digest)
        ).one_or_none()
    if row is None:
        raise _unauthenticated("unknown or expired token: sign in again")
    token, user = row
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now):
        raise _unauthenticated("unknown or expired token: sign in again")
    if not user.active:
        raise _unauthenticated("this account is disabled")
    if via_cookie != (token.kind == "session"):
        raise _unauthenticated("session tokens go in the cookie, other tokens in Authorization")
    if token.last_used_at is None or now - token.last_used_at > LAST_SEEN_EVERY:
        with db.write() as s:
            s.execute(
                update(AccessToken).where(AccessToken.id == token.id).values(last_used_at=now)
            )
    if via_cookie and request.method in UNSAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not token.csrf_token or not _same(sent, token.csrf_token):
            raise _forbidden(f"missing or wrong {CSRF_HEADER} header for a cookie session")
    return Principal(
        "user",
        user.id,
        user.role,
        user.store_id,
        user.email or user.name,
        token.kind,
        token.id,
        ip=client_ip(request),
        can_edit_catalog=user.can_edit_catalog,
    )


def _same(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())


def _policy(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__kassa_policy__ = name  # type: ignore[attr-defined]
        return fn

    return mark


@_policy("public")
def public() -> None:
    """Anyone, signed in or not."""


# Declares the bearer scheme in OpenAPI (the Authorize button of /docs); checks nothing itself.
_oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
_Documented = Annotated[str | None, Depends(_oauth2)]


def _signed_in(request: Request, db: Database) -> Principal:
    """A person or a service account (never a till)."""
    principal = _authenticate(request, db)
    if principal is None:
        raise _unauthenticated()
    if principal.kind != "user":
        raise _forbidden("a till's device token cannot use staff routes")
    return principal


@_policy("staff")
def staff(request: Request, db: DbDep, _token: _Documented = None) -> Principal:
    principal = _signed_in(request, db)
    if principal.is_service:
        raise _forbidden("a service account cannot use this route: sign in as a person")
    return principal


@_policy("staff_or_service")
def staff_or_service(request: Request, db: DbDep, _token: _Documented = None) -> Principal:
    return _signed_in(request, db)


@_policy("manager")
def manager(request: Request, db: DbDep) -> Principal:
    principal = staff(request, db)
    if principal.role not in ("owner", "manager"):
        raise _forbidden("only owners and managers may do this")
    return principal


@_policy("owner")
def owner(request: Request, db: DbDep) -> Principal:
    principal = staff(request, db)
    if principal.role != "owner":
        raise _forbidden("only owners may do this")
    return principal


@_policy("catalog_editor")
def catalog_editor(request: Request, db: DbDep) -> Principal:
    principal = staff(request, db)
    if not principal.may_edit_catalog:
        raise _forbidden("the chain's catalog is edited by owners and the managers they allow")
    return principal


@_policy("store_manager")
def store_manager(
    request: Request, db: DbDep, store_id: Annotated[int, Path(ge=1, le=2**63 - 1)]
) -> Principal:
    principal = staff(request, db)
    if not principal.may_manage_store(store_id):
        raise _forbidden("only the owner or this store's manager may do this")
    return principal


@_policy("owner_or_service")
def owner_or_service(request: Request, db: DbDep, _token: _Documented = None) -> Principal:
    principal = _signed_in(request, db)
    if not (principal.is_owner or principal.is_service):
        raise _forbidden("only owners (or a service account) may do this")
    return principal


@_policy("store_manager_or_service")
def store_manager_or_service(
    request: Request,
    db: DbDep,
    store_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    _token: _Documented = None,
) -> Principal:
    principal = _signed_in(request, db)
    if not (principal.is_service or principal.may_manage_store(store_id)):
        raise _forbidden("only the owner, this store's manager or a service account may do this")
    return principal


@_policy("device")
def device(request: Request, db: DbDep, _token: _Documented = None) -> Principal:
    principal = _authenticate(request, db)
    if principal is None:
        raise _unauthenticated("send the till's device token as a bearer token")
    if principal.kind != "device":
        raise _forbidden("only a paired till may use this route")
    return principal


Public = Depends(public)
StaffDep = Annotated[Principal, Depends(staff)]
ManagerDep = Annotated[Principal, Depends(manager)]
OwnerDep = Annotated[Principal, Depends(owner)]
CatalogEditorDep = Annotated[Principal, Depends(catalog_editor)]
StoreManagerDep = Annotated[Principal, Depends(store_manager)]
StaffOrServiceDep = Annotated[Principal, Depends(staff_or_service)]
OwnerOrServiceDep = Annotated[Principal, Depends(owner_or_service)]
StoreManagerOrServiceDep = Annotated[Principal, Depends(store_manager_or_service)]
DeviceDep = Annotated[Principal, Depends(device)]


def policy_of(dependency: Callable[..., Any]) -> str | None:
    return getattr(dependency, "__kassa_policy__", None)


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None
