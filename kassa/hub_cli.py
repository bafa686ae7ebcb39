"""`kassa hub ...`: serve, migrate and the first administrative steps."""

from __future__ import annotations

import os

import typer

app = typer.Typer(help="Run and administer the hub.", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


def _settings():  # type: ignore[no-untyped-def]
    from hub.settings import Settings

    return Settings()


def _db():  # type: ignore[no-untyped-def]
    from hub.db import Database

    settings = _settings()
    return Database(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
    workers: int = typer.Option(1, min=1, help="Worker processes (use PostgreSQL for > 1)."),
) -> None:
    """Serve the hub API (uvicorn)."""
    import uvicorn

    from hub.settings import UnsafeSettingsError

    settings = _settings()
    try:
        settings.check_safe()
    except UnsafeSettingsError as exc:
        raise _fail(str(exc)) from None
    if workers > 1 and settings.is_sqlite:
        raise _fail("more than one worker needs PostgreSQL: set KASSA_DATABASE_URL")
    uvicorn.run(
        "hub.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


@app.command()
def migrate() -> None:
    """Create or upgrade the hub database to the newest schema."""
    from hub.migrate import head_revision, upgrade

    settings = _settings()
    upgrade(settings.database_url)
    typer.echo(f"hub database at migration {head_revision()}: {_safe_url(settings.database_url)}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command("create-owner")
def create_owner(
    email: str = typer.Option(..., help="The owner's e-mail (their login)."),
    name: str = typer.Option("Владелец", help="Display name."),
    password: str | None = typer.Option(
        None, help="Password (else KASSA_OWNER_PASSWORD, else a prompt).", show_default=False
    ),
) -> None:
    """Create an owner account (there are no default accounts)."""
    from pydantic import ValidationError

    from hub.errors import ApiError
    from hub.staff import service
    from hub.staff.schemas import UserCreate

    password = password or os.environ.get("KASSA_OWNER_PASSWORD")
    if not password:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        data = UserCreate(name=name, role="owner", email=email, password=password)
    except ValidationError as exc:
        raise _fail(_first_error(exc)) from None
    db = _db()
    try:
        with db.write() as s:
            user = service.create_user(s, actor=None, data=data)
            typer.echo(f"owner {user.email} created (id {user.id})")
    except ApiError as exc:
        raise _fail(f"{exc.field or 'error'}: {exc.message}") from None


@app.command("create-store")
def create_store(
    name: str = typer.Option(..., help="Store name."),
    timezone: str = typer.Option(..., help="IANA time zone, e.g. Europe/Moscow."),
    currency: str = typer.Option("RUB", help="ISO 4217 currency (the chain's catalog currency)."),
    address: str = typer.Option("", help="Address printed on receipts."),
    language: str = typer.Option("ru", help="Receipt and UI language: ru or en."),
) -> None:
    """Create a store and print its id."""
    from pydantic import ValidationError

    from hub.errors import ApiError
    from hub.stores import service
    from hub.stores.schemas import StoreCreate

    try:
        data = StoreCreate(
            name=name, timezone=timezone, currency=currency, address=address, language=language
        )  # type: ignore[arg-type]
    except ValidationError as exc:
        raise _fail(_first_error(exc)) from None
    settings = _settings()
    db = _db()
    try:
        with db.write() as s:
            store = service.create_store(
                s, actor=None, data=data, catalog_currency=settings.catalog_currency
            )
            typer.echo(store.id)
    except ApiError as exc:
        raise _fail(f"{exc.field or 'error'}: {exc.message}") from None


@app.command("pair-code")
def pair_code(
    store: int = typer.Option(..., help="Store id (see `kassa hub create-store`)."),
    device_name: str = typer.Option("Касса", help="Name the till will carry."),
    replaces: int | None = typer.Option(
        None, help="Re-pairing: the device id this till was (its journal carries on)."
    ),
) -> None:
    """Print a one-time pairing code for a till of this store."""
    from hub.devices import service
    from hub.errors import ApiError

    settings = _settings()
    db = _db()
    try:
        with db.write() as s:
            code, row = service.create_pairing_code(
                s,
                actor=None,
                store_id=store,
                device_name=device_name,
                minutes=settings.pairing_code_minutes,
                replaces_device_id=replaces,
            )
    except ApiError as exc:
        raise _fail(f"{exc.field or 'error'}: {exc.message}") from None
    typer.echo(code)
    typer.echo(f"valid until {row.expires_at:%Y-%m-%d %H:%M} UTC", err=True)


@app.command("service-token")
def service_token(
    name: str = typer.Option(..., help='The service account\'s name, e.g. "kassa flows".'),
    days: int | None = typer.Option(
        None, help="The token expires after this many days (default: never).", show_default=False
    ),
) -> None:
    """Print a new API token for a service account (a machine such as the reorder flow),
    creating the account when absent. The token is shown once; only its hash is stored."""
    from pydantic import ValidationError

    from hub.errors import ApiError
    from hub.staff import service
    from hub.staff.schemas import ServiceTokenCreate

    try:
        data = ServiceTokenCreate(name=name, days=days)
    except ValidationError as exc:
        raise _fail(_first_error(exc)) from None
    db = _db()
    try:
        with db.write() as s:
            token, user, created = service.issue_service_token(s, data=data)
    except ApiError as exc:
        raise _fail(f"{exc.field or 'error'}: {exc.message}") from None
    typer.echo(token)
    what = "created" if created else "exists"
    typer.echo(f"service account {user.name!r} (user {user.id}) {what}", err=True)


def _first_error(exc: object) -> str:
    errors = exc.errors()  # type: ignore[attr-defined]
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "input"
    return f"{where}: {first['msg']}"
