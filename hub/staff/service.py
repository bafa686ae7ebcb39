"""Staff use-cases: users, PINs, sign-in with throttling, sessions and API tokens."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.db import Database, next_change_seq, utcnow
from hub.errors import ApiError, not_found
from hub.principal import Principal
from hub.staff import security, throttle
from hub.staff.models import AccessToken, User
from hub.staff.schemas import (
    ApiTokenCreate,
    ServiceTokenCreate,
    UserCreate,
    UserOut,
    UserUpdate,
)
from hub.stores.models import Store

BAD_LOGIN = "incorrect email or password"


def user_out(user: User) -> UserOut:
    return UserOut.model_validate(
        {
            **{k: getattr(user, k) for k in UserOut.model_fields if k != "has_pin"},
            "has_pin": user.pin_hash is not None,
        }
    )


def _check_may_manage(actor: Principal | None, *, role: str, store_id: int | None) -> None:
    if actor is None or actor.is_owner:
        return
    if actor.role == "manager" and role == "cashier" and store_id == actor.store_id:
        return
    raise ApiError(403, "forbidden", "managers manage only the cashiers of their own store")


def _bad(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid", message, loc=["body", field])


def _check_consistent(data: UserCreate) -> None:
    """Who needs what: owners and managers sign in on the web, cashiers only at the till."""
    if data.role == "owner" and data.store_id is not None:
        raise _bad("store_id", "owners belong to every store; leave store_id out")
    if data.role != "owner" and data.store_id is None:
        raise _bad("store_id", "managers and cashiers need the id of their store")
    if data.role != "cashier":
        if not data.email:
            raise _bad("email", "owners and managers sign in with an e-mail")
        if not data.password:
            raise _bad("password", "owners and managers need a password")
        if data.pin is not None:
            raise _bad("pin", "only cashiers have till PINs")
    else:
        if data.password is not None:
            raise _bad("password", "cashiers sign in only at the till, by PIN: leave password out")
        if data.pin is None:
            raise _bad("pin", "a cashier needs a 4-8 digit PIN to sign in at the till")


def create_user(session: Session, *, actor: Principal | None, data: UserCreate) -> User:
    _check_consistent(data)
    _check_may_manage(actor, role=data.role, store_id=data.store_id)
    if data.can_edit_catalog and (data.role != "manager" or not (actor is None or actor.is_owner)):
        raise ApiError(
            403,
            "forbidden",
            "only owners let managers edit the catalog",
            loc=["body", "can_edit_catalog"],
        )
    if data.store_id is not None and session.get(Store, data.store_id) is None:
        raise ApiError(422, "unknown_store", "no store with this id", loc=["body", "store_id"])
    if data.email and session.scalars(select(User.id).where(User.email == data.email)).first():
        raise ApiError(409, "duplicate", "a user with this e-mail exists", loc=["body", "email"])
    user = User(
        name=data.name,
        role=data.role,
        store_id=data.store_id,
        email=data.email,
        password_hash=security.hash_secret(data.password) if data.password else None,
        pin_hash=security.hash_secret(data.pin) if data.pin else None,
        max_discount_bp=data.max_discount_bp,
        can_edit_catalog=data.can_edit_catalog,
        change_seq=next_change_seq(session),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.create",
        entity="user",
        entity_id=user.id,
        store_id=user.store_id,
        after=audit.snapshot(user),
    )
    return user


def get_user(session: Session, *, actor: Principal, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise not_found("user", "user_id")
    if actor.id != user.id:
        _check_may_manage(actor, role=user.role, store_id=user.store_id)
    return user


def list_users(session: Session, *, actor: Principal) -> list[User]:
    query = select(User).order_by(User.id)
    if not actor.is_owner:
        query = query.where(User.store_id == actor.store_id, User.role == "cashier")
    return list(session.scalars(query))


def update_user(session: Session, *, actor: Principal, user_id: int, data: UserUpdate) -> User:
    user = get_user(session, actor=actor, user_id=user_id)
    changes = data.model_dump(exclude_unset=True)
    for key, value in changes.items():
        if value is None:
            raise ApiError(422, "null", f"{key} cannot be null", loc=["body", key])
    current = changes.pop("current_password", None)
    if user.id == actor.id:
        _check_self_update(user, actor=actor, changes=changes, current_password=current)
    if "can_edit_catalog" in changes and not (actor.is_owner and user.role == "manager"):
        raise ApiError(
            403,
            "forbidden",
            "only owners decide which managers edit the catalog",
            loc=["body", "can_edit_catalog"],
        )
    if "password" in changes and user.role == "cashier":
        raise _bad("password", "cashiers sign in only at the till, by PIN")
    if "password" in changes and user.role == "service":
        raise _bad("password", "service accounts never sign in by password: they use API tokens")
    before = audit.snapshot(user)
    if "password" in changes:
        user.password_hash = security.hash_secret(changes.pop("password"))
        _revoke_tokens(session, user.id, kinds=("session", "bearer"))
    for key, value in changes.items():
        setattr(user, key, value)
    if changes.get("active") is False:
        _revoke_tokens(session, user.id, kinds=("session", "bearer", "api"))
    user.change_seq = next_change_seq(session)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.update",
        entity="user",
        entity_id=user.id,
        store_id=user.store_id,
        before=before,
        after=audit.snapshot(user),
    )
    return user


def _check_self_update(
    user: User, *, actor: Principal, changes: dict[str, object], current_password: str | None
) -> None:
    """Your own account: a new name or password (proving the old one); owners also the rest."""
    if changes.get("active") is False:
        raise _bad("active", "you cannot disable your own account")
    if not actor.is_owner and "max_discount_bp" in changes:
        raise ApiError(
            403,
            "forbidden",
            "your discount limit is set by an owner",
            loc=["body", "max_discount_bp"],
        )
    if "password" in changes and not security.verify_secret(
        user.password_hash, current_password or ""
    ):
        raise _bad("current_password", "give your current password to set a new one")


def set_pin(session: Session, *, actor: Principal, user_id: int, pin: str) -> User:
    user = get_user(session, actor=actor, user_id=user_id)
    if user.role != "cashier":
        raise ApiError(422, "not_cashier", "only cashiers have till PINs", loc=["path", "user_id"])
    before = audit.snapshot(user)
    user.pin_hash = security.hash_secret(pin)
    user.change_seq = next_change_seq(session)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.set_pin",
        entity="user",
        entity_id=user.id,
        store_id=user.store_id,
        before=before,
        after=audit.snapshot(user),
    )
    return user


def _revoke_tokens(session: Session, user_id: int, *, kinds: tuple[str, ...]) -> None:
    session.execute(
        update(AccessToken)
        .where(
            AccessToken.user_id == user_id,
            AccessToken.kind.in_(kinds),
            AccessToken.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )


# --- sign-in -------------------------------------------------------------------------------


def authenticate(
    db: Database,
    *,
    email: str,
    password: str,
    ip: str | None,
    max_failures: int,
    window_seconds: int,
) -> User:
    """Check e-mail and password with throttling; unknown user and wrong password look alike.

    Limits per minute window: `max_failures` per account from one address (the rule people
    meet), 10x that per account from anywhere (distributed guessing), 5x per address (one NAT
    holds many people). Cashiers sign in only at the till, by PIN; service accounts never sign
    in (they have no password).
    """
    email = email.strip().lower()
    limits = {
        throttle.key("login", email, ip or ""): max_failures,
        throttle.key("login-user", email): max_failures * 10,
    }
    if ip:
        limits[throttle.key("login-ip", ip)] = max_failures * 5
    attempt = throttle.attempt(db, limits, window_seconds=window_seconds, field="username")
    with db.read() as s:
        user = s.scalars(select(User).where(User.email == email)).one_or_none()
    ok = security.verify_secret(user.password_hash if user else None, password)
    if ok and user is not None and user.active and user.role not in ("cashier", "service"):
        throttle.succeeded(db, attempt)
        return user
    raise ApiError(
        401,
        "bad_credentials",
        BAD_LOGIN,
        loc=["body", "username"],
        headers={"WWW-Authenticate": "Bearer"},
    )


def issue_token(
    session: Session,
    *,
    user: User,
    kind: str,
    hours: int | None,
    name: str = "",
    ip: str | None = None,
    by_system: bool = False,
) -> tuple[str, AccessToken]:
    """A new session, bearer or API token for `user`; audited as a sign-in or token creation,
    done by the user, or by the system (`by_system`: an administrator's CLI)."""
    prefix = {
        "session": security.SESSION_PREFIX,
        "bearer": security.BEARER_PREFIX,
        "api": security.API_PREFIX,
    }[kind]
    token, digest = security.new_token(prefix)
    row = AccessToken(
        token_hash=digest,
        kind=kind,
        user_id=user.id,
        name=name,
        csrf_token=secrets.token_urlsafe(32) if kind == "session" else None,
        expires_at=utcnow() + dt.timedelta(hours=hours) if hours else None,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=None if by_system else _as_principal(user, kind, ip),
        action="api_token.create" if kind == "api" else f"auth.sign_in.{kind}",
        entity="access_token",
        entity_id=row.id,
        store_id=user.store_id,
        after={
            "kind": kind,
            "name": name,
            "expires_at": str(row.expires_at),
            **({"user_id": user.id, "user": user.email or user.name} if by_system else {}),
        },
    )
    return token, row


def issue_service_token(session: Session, *, data: ServiceTokenCreate) -> tuple[str, User, bool]:
    """A new API token for the service account named `data.name`, created when absent (True).

    A service account is a machine (e.g. the reorder flow): chain-wide, no e-mail, password or
    PIN, so it never signs in and is never a cashier. Done by an administrator at the hub's
    console (`kassa hub service-token`), so both writes are audited as the system's.
    """
    user = session.scalars(
        select(User).where(User.role == "service", User.name == data.name).order_by(User.id)
    ).first()
    created = user is None
    if user is None:
        user = User(name=data.name, role="service", change_seq=next_change_seq(session))
        session.add(user)
        session.flush()
        audit.record(
            session,
            actor=None,
            action="user.create",
            entity="user",
            entity_id=user.id,
            after=audit.snapshot(user),
        )
    elif not user.active:
        raise ApiError(
            409,
            "disabled",
            f"service account {data.name!r} (user {user.id}) is disabled: an owner enables it "
            "again (PATCH /api/v1/users/{id} with active=true), or choose another name",
            field="name",
        )
    token, _row = issue_token(
        session,
        user=user,
        kind="api",
        hours=data.days * 24 if data.days else None,
        name=data.name,
        by_system=True,
    )
    return token, user, created


def _as_principal(user: User, via: str, ip: str | None) -> Principal:
    return Principal("user", user.id, user.role, user.store_id, user.email or user.name, via, ip=ip)


def revoke_current(session: Session, *, actor: Principal) -> None:
    if actor.token_id is not None:
        session.execute(
            update(AccessToken).where(AccessToken.id == actor.token_id).values(revoked_at=utcnow())
        )
        audit.record(
            session,
            actor=actor,
            action="auth.sign_out",
            entity="access_token",
            entity_id=actor.token_id,
            store_id=actor.store_id,
        )


def create_api_token(
    session: Session, *, actor: Principal, data: ApiTokenCreate
) -> tuple[str, AccessToken]:
    user = session.get(User, actor.id)
    assert user is not None
    return issue_token(
        session,
        user=user,
        kind="api",
        hours=data.days * 24 if data.days else None,
        name=data.name,
        ip=actor.ip,
    )


def list_api_tokens(session: Session, *, actor: Principal) -> list[AccessToken]:
    return list(
        session.scalars(
            select(AccessToken)
            .where(AccessToken.user_id == actor.id, AccessToken.kind == "api")
            .order_by(AccessToken.id)
        )
    )


def revoke_api_token(session: Session, *, actor: Principal, token_id: int) -> AccessToken:
    row = session.get(AccessToken, token_id)
    if row is None or row.kind != "api" or row.user_id != actor.id:
        raise not_found("API token", "token_id")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(
            session,
            actor=actor,
            action="api_token.revoke",
            entity="access_token",
            entity_id=row.id,
            store_id=actor.store_id,
        )
    return row
