from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from pydantic import AfterValidator

from hub import access
from hub.access import (
    DEV_SESSION_COOKIE,
    SESSION_COOKIE,
    DbDep,
    ManagerDep,
    StaffDep,
    client_ip,
    session_cookie_name,
)
from hub.errors import responses
from hub.http import IdPath, KassaRoute
from hub.settings import Settings
from hub.staff import service
from hub.staff.schemas import (
    ApiTokenCreate,
    ApiTokenCreated,
    ApiTokenOut,
    PinSet,
    SessionOut,
    TokenOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from hub.text import check_line

router = APIRouter(tags=["staff"], route_class=KassaRoute)
WRITE_ERRORS = responses(400, 401, 403, 404, 409, 413, 415, 422)
LOGIN_ERRORS = responses(400, 401, 413, 415, 422, 429)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _sign_in(request: Request, db: DbDep, username: str, password: str) -> service.User:
    settings = _settings(request)
    return service.authenticate(
        db,
        email=username,
        password=password,
        ip=client_ip(request),
        max_failures=settings.login_max_failures,
        window_seconds=settings.login_window_seconds,
    )


# Bounded and checked before anything reaches the database (NUL would be a 500 on PostgreSQL).
FormUsername = Annotated[str, Form(min_length=1, max_length=254), AfterValidator(check_line)]
FormPassword = Annotated[str, Form(min_length=1, max_length=200), AfterValidator(check_line)]


@router.post("/api/v1/auth/token", dependencies=[access.Public], responses=LOGIN_ERRORS)
def token(
    username: FormUsername,
    password: FormPassword,
    db: DbDep,
    request: Request,
    grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
    scope: Annotated[str, Form(max_length=200)] = "",
) -> TokenOut:
    """OAuth2 password flow: e-mail as `username`; returns a bearer token for API clients."""
    del grant_type, scope  # accepted for OAuth2 clients; Kassa has no scopes
    user = _sign_in(request, db, username, password)
    hours = _settings(request).bearer_token_hours
    with db.write() as s:
        value, _row = service.issue_token(
            s, user=user, kind="bearer", hours=hours, ip=client_ip(request)
        )
    return TokenOut(access_token=value, expires_in=hours * 3600)


@router.post("/api/v1/auth/login", dependencies=[access.Public], responses=LOGIN_ERRORS)
def login(
    username: FormUsername,
    password: FormPassword,
    db: DbDep,
    request: Request,
    response: Response,
) -> SessionOut:
    """Web sign-in: sets a server-side session cookie; send `csrf_token` as X-CSRF-Token."""
    user = _sign_in(request, db, username, password)
    settings = _settings(request)
    with db.write() as s:
        value, row = service.issue_token(
            s, user=user, kind="session", hours=settings.session_hours, ip=client_ip(request)
        )
    response.set_cookie(
        session_cookie_name(settings.cookie_secure),
        value,
        max_age=settings.session_hours * 3600,
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="strict",
    )
    assert row.csrf_token is not None
    return SessionOut(csrf_token=row.csrf_token, user=service.user_out(user))


@router.post("/api/v1/auth/logout", status_code=204, responses=responses(401, 403))
def logout(db: DbDep, actor: StaffDep, response: Response) -> None:
    """End this session or bearer token."""
    with db.write() as s:
        service.revoke_current(s, actor=actor)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True)
    response.delete_cookie(DEV_SESSION_COOKIE, path="/")


@router.get("/api/v1/auth/me", responses=responses(401, 403))
def me(db: DbDep, actor: StaffDep) -> UserOut:
    with db.read() as s:
        return service.user_out(service.get_user(s, actor=actor, user_id=actor.id))


@router.post("/api/v1/auth/api-tokens", status_code=201, responses=WRITE_ERRORS)
def create_api_token(body: ApiTokenCreate, db: DbDep, actor: ManagerDep) -> ApiTokenCreated:
    """A personal API token for an integration; shown once."""
    with db.write() as s:
        value, row = service.create_api_token(s, actor=actor, data=body)
        return ApiTokenCreated.model_validate(
            {**ApiTokenOut.model_validate(row).model_dump(), "token": value}
        )


@router.get("/api/v1/auth/api-tokens", responses=responses(401, 403))
def list_api_tokens(db: DbDep, actor: ManagerDep) -> list[ApiTokenOut]:
    with db.read() as s:
        return [ApiTokenOut.model_validate(t) for t in service.list_api_tokens(s, actor=actor)]


@router.delete("/api/v1/auth/api-tokens/{token_id}", responses=responses(401, 403, 404, 422))
def revoke_api_token(token_id: IdPath, db: DbDep, actor: ManagerDep) -> ApiTokenOut:
    with db.write() as s:
        return ApiTokenOut.model_validate(
            service.revoke_api_token(s, actor=actor, token_id=token_id)
        )


@router.post("/api/v1/users", status_code=201, responses=WRITE_ERRORS)
def create_user(body: UserCreate, db: DbDep, actor: ManagerDep) -> UserOut:
    """Owners create anyone; a manager creates cashiers of their own store."""
    with db.write() as s:
        return service.user_out(service.create_user(s, actor=actor, data=body))


@router.get("/api/v1/users", responses=responses(401, 403))
def list_users(db: DbDep, actor: ManagerDep) -> list[UserOut]:
    with db.read() as s:
        return [service.user_out(u) for u in service.list_users(s, actor=actor)]


@router.get("/api/v1/users/{user_id}", responses=responses(401, 403, 404, 422))
def get_user(user_id: IdPath, db: DbDep, actor: ManagerDep) -> UserOut:
    with db.read() as s:
        return service.user_out(service.get_user(s, actor=actor, user_id=user_id))


@router.patch("/api/v1/users/{user_id}", responses=WRITE_ERRORS)
def update_user(user_id: IdPath, body: UserUpdate, db: DbDep, actor: ManagerDep) -> UserOut:
    with db.write() as s:
        return service.user_out(service.update_user(s, actor=actor, user_id=user_id, data=body))


@router.put("/api/v1/users/{user_id}/pin", responses=WRITE_ERRORS)
def set_pin(user_id: IdPath, body: PinSet, db: DbDep, actor: ManagerDep) -> UserOut:
    """Set a cashier's till PIN (stored as an argon2id hash, sent to the store's tills)."""
    with db.write() as s:
        return service.user_out(service.set_pin(s, actor=actor, user_id=user_id, pin=body.pin))
