"""The flows' HTTP client for the hub's API (sync httpx), authenticated with a bearer token.

The flows write to the hub only through its API, as any integration does: the hub checks,
audits and numbers what they write. Settings (`KASSA_` prefix):

- `KASSA_HUB_URL`: where the hub answers, default `http://127.0.0.1:8000`;
- `KASSA_HUB_TOKEN`: the flows' token (`kassa hub service-token` makes one).

Errors, for a caller deciding whether a retry can help:

- `HubUnavailableError`: the hub did not answer, or answered 429/502/503/504, after a few tries
  (Retry-After honoured, bounded). Transient: the flow may retry its task later.
- `HubAuthError`: 401/403 or no token configured. A retry cannot help: a person must fix it.
- `HubRejectedError`: any other 4xx; `.errors` holds the hub's field errors. A retry cannot help.
- `HubError`: anything else (e.g. a 500 or an answer that is not what the API promises).

A request is retried after a connection or read failure only when repeating it is harmless: a
GET, or a POST carrying a `source_key` (the hub returns the existing order for a known key).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from flows.settings import ENV_PREFIX, FlowSettingsError, _describe

USER_AGENT = "kassa-flows"
DEFAULT_URL = "http://127.0.0.1:8000"
# Connecting is quick or the hub is down; a 1000-line order takes a while to write and audit.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
ATTEMPTS = 4  # one try and three retries
MAX_WAIT_SECONDS = 30.0  # the longest pause between two tries, whatever Retry-After says
BACKOFF_SECONDS = 1.0  # without Retry-After: 1, 2, 4 s
RETRY_STATUSES = frozenset({429, 502, 503, 504})
FIX_HINT = "create one with `kassa hub service-token` and set KASSA_HUB_TOKEN"

ORDERS = "/api/v1/stores/{store_id}/purchase-orders"
RECIPIENTS = "/api/v1/reports/recipients"


class HubClientSettings(BaseSettings):
    """`KASSA_HUB_URL` and `KASSA_HUB_TOKEN` (to be folded into `flows.settings.FlowSettings`)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=None, extra="ignore")

    hub_url: str = Field(default=DEFAULT_URL, description="The hub's base URL")
    hub_token: SecretStr | None = Field(default=None, description="`kassa hub service-token`")

    @field_validator("hub_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        url = httpx.URL(value)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"{value!r} is not an http(s) URL such as {DEFAULT_URL}")
        return value


def load_hub_settings(**overrides: object) -> HubClientSettings:
    """The hub client's settings from the environment; a bad value raises `FlowSettingsError`
    naming its variable."""
    try:
        return HubClientSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise FlowSettingsError(_describe(exc)) from None


# --- errors ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldError:
    """One item of the hub's error body `{"detail": [{"loc", "field", "type", "msg"}]}`."""

    field: str
    type: str
    msg: str

    def __str__(self) -> str:
        return f"{self.field}: {self.msg}" if self.field else self.msg


class HubError(RuntimeError):
    """The hub answered something the flows cannot use (or did not answer)."""

    def __init__(
        self, message: str, *, status: int | None = None, errors: tuple[FieldError, ...] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors

    @property
    def message(self) -> str:
        return str(self)


class HubUnavailableError(HubError):
    """The hub did not answer, or was busy, after every try. Transient: retry later."""


class HubAuthError(HubError):
    """The hub refused the flows' token (401/403), or no token is configured."""


class HubRejectedError(HubError):
    """The hub refused the request (4xx other than 401/403); `errors` says which field and why."""


# Errors a retry of the flow's task cannot fix (for `flows.tasks.NOT_TRANSIENT`).
NOT_TRANSIENT_ERRORS: tuple[type[HubError], ...] = (HubAuthError, HubRejectedError)


def _field_errors(response: httpx.Response) -> tuple[FieldError, ...]:
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()[:200]
        return (FieldError("", "", text),) if text else ()
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):
        return (FieldError("", "", detail),)
    if not isinstance(detail, list):
        return ()
    errors = []
    for item in detail:
        if isinstance(item, dict):
            loc = [str(p) for p in item.get("loc", []) if p not in ("body", "path", "query")]
            field = str(item.get("field") or ".".join(loc))
            errors.append(FieldError(field, str(item.get("type", "")), str(item.get("msg", ""))))
    return tuple(errors)


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (a number or an HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


# --- the client ------------------------------------------------------------------------------


class HubClient:
    """The hub's API for the flows. Pass `http` to use a client of your own (tests pass FastAPI's
    `TestClient(app)`); its base URL is used unless `base_url` is given. Close the client (or use
    it as a context manager); an injected `http` client is left open for its owner."""

    def __init__(
        self,
        base_url: str | None = None,
        token: SecretStr | str | None = None,
        *,
        http: httpx.Client | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        attempts: int = ATTEMPTS,
        max_wait_seconds: float = MAX_WAIT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if token is None or not (
            token.get_secret_value() if isinstance(token, SecretStr) else token
        ):
            raise HubAuthError(f"KASSA_HUB_TOKEN is not set: {FIX_HINT}")
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {attempts}")
        self._token = token if isinstance(token, SecretStr) else SecretStr(token)
        self._owns_http = http is None
        if http is None:
            self._http = httpx.Client(base_url=base_url or DEFAULT_URL, timeout=timeout)
            self._prefix = ""
        else:
            self._http = http
            self._prefix = base_url.rstrip("/") if base_url else ""
        self.base_url = self._prefix or str(self._http.base_url).rstrip("/")
        self.attempts = attempts
        self.max_wait_seconds = max_wait_seconds
        self._sleep = sleep

    @classmethod
    def from_settings(cls, settings: HubClientSettings | None = None, **kwargs: Any) -> HubClient:
        """A client for `KASSA_HUB_URL` with `KASSA_HUB_TOKEN` (or the settings given)."""
        settings = settings or load_hub_settings()
        return cls(settings.hub_url, settings.hub_token, **kwargs)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- the API -----------------------------------------------------------------------------

    def create_draft_order(
        self, store_id: int, body: Mapping[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """POST a draft purchase order to `store_id`; (the order, True) when the hub created it
        (201), (the existing order, False) when its `source_key` already had one (200)."""
        response = self._send(
            "POST",
            ORDERS.format(store_id=int(store_id)),
            json=dict(body),
            repeatable=bool(body.get("source_key")),
        )
        order = _json(response)
        if not isinstance(order, dict) or "id" not in order:
            raise HubError(
                f"the hub answered {response.status_code} to a purchase order without an order",
                status=response.status_code,
            )
        return order, response.status_code == 201

    def list_recipients(self) -> list[dict[str, Any]]:
        """`GET /api/v1/reports/recipients`: who receives the reports."""
        response = self._send("GET", RECIPIENTS, repeatable=True)
        recipients = _json(response)
        if not isinstance(recipients, list):
            raise HubError(
                f"the hub answered {RECIPIENTS} with {type(recipients).__name__}, not a list",
                status=response.status_code,
            )
        return recipients

    # --- transport ---------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._token.get_secret_value()}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }

    def _wait(self, attempt: int, response: httpx.Response | None) -> None:
        seconds = _retry_after(response) if response is not None else None
        if seconds is None:
            seconds = BACKOFF_SECONDS * 2**attempt
        self._sleep(min(seconds, self.max_wait_seconds))

    def _send(
        self, method: str, path: str, *, json: Any = None, repeatable: bool
    ) -> httpx.Response:
        """Send, retrying what can pass; return a 2xx response or raise a `HubError`."""
        what = f"{method} {path}"
        last = ""
        for attempt in range(self.attempts):
            try:
                response = self._http.request(
                    method,
                    self._prefix + path,
                    json=json,
                    headers=self._headers(),
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                last = f"{type(exc).__name__}: {exc}"  # never sent: always safe to try again
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                last = f"{type(exc).__name__}: {exc}"
                if not repeatable:
                    raise HubUnavailableError(
                        f"{what} to the hub at {self.base_url} failed ({last}); not repeated, "
                        "because it may have been applied"
                    ) from exc
            else:
                if response.status_code not in RETRY_STATUSES:
                    return _checked(what, response)
                last = f"{response.status_code} {_describe_errors(_field_errors(response))}"
                if attempt + 1 < self.attempts:
                    self._wait(attempt, response)
                continue
            if attempt + 1 < self.attempts:
                self._wait(attempt, None)
        raise HubUnavailableError(
            f"the hub at {self.base_url} did not take {what} after {self.attempts} tries "
            f"(last: {last}); is it running? the flow will try again later"
        )


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise HubError(
            f"the hub answered {response.request.method} {response.request.url.path} "
            f"({response.status_code}) with something that is not JSON: is KASSA_HUB_URL the hub?",
            status=response.status_code,
        ) from None


def _describe_errors(errors: tuple[FieldError, ...]) -> str:
    return "; ".join(str(e) for e in errors) or "(no details)"


def _checked(what: str, response: httpx.Response) -> httpx.Response:
    status = response.status_code
    if status < 300:
        return response
    if status < 400:
        where = response.headers.get("Location", "?")
        raise HubError(
            f"the hub answered {what} with {status}, a redirect to {where}: "
            "set KASSA_HUB_URL to the hub's own address",
            status=status,
        )
    errors = _field_errors(response)
    details = _describe_errors(errors)
    if status in (401, 403):
        raise HubAuthError(
            f"the hub refused the flows' token ({status} on {what}: {details}): {FIX_HINT}",
            status=status,
            errors=errors,
        )
    if 400 <= status < 500:
        raise HubRejectedError(
            f"the hub refused {what} ({status}): {details}", status=status, errors=errors
        )
    raise HubError(f"the hub failed {what} ({status}): {details}", status=status, errors=errors)


__all__ = [
    "DEFAULT_URL",
    "NOT_TRANSIENT_ERRORS",
    "USER_AGENT",
    "FieldError",
    "HubAuthError",
    "HubClient",
    "HubClientSettings",
    "HubError",
    "HubRejectedError",
    "HubUnavailableError",
    "load_hub_settings",
]
