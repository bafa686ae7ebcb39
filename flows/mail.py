"""E-mail for the owners' reports and the operations' alerts: the SMTP settings, the message, and
an outbox that sends each message to its recipient once.

Why an outbox. The flows that make reports retry, re-run and may run twice at once, and SMTP
servers go down. So a flow never talks to SMTP: it builds the message and `enqueue`s it under a
key that says what it is (`report:daily:2026-11-27:owner@example.ru`, see `outbox_key`). A key
is taken once, whatever became of its message since, so no retry or re-run mails anyone twice.
`deliver` then sends what is due: a refused connection, a timeout or a 4xx answer leaves the
message pending with the error and a later attempt time (exponential backoff, capped); a 5xx
answer about the recipient or the message marks it `failed_permanently` with the server's words,
where `kassa mail outbox` lists it. Nothing is dropped.

The outbox is one SQLite file (WAL, synchronous=FULL, every write in BEGIN IMMEDIATE), so it
needs no server and survives a crash. A deliverer claims one message at a time (status
`sending`, with who and when) in a write transaction before it talks to SMTP, and marks it
`sent` in its own transaction as soon as the server has accepted it: two deliverers running at
once never send one message twice.

The one at-least-once edge: the server has accepted a message but it is not marked `sent`.
A deliverer that dies there leaves it `sending`, and once that claim is older than
KASSA_MAIL_CLAIM_TIMEOUT_SECONDS it is sent again; a deliverer that loses the server's answer to
the end of DATA (a timeout, a dropped connection) takes it for a failure and tries again after
the backoff. The resend carries the same bytes and so the same Message-ID, derived from the
key, so a receiving server or mail client that deduplicates shows it once. SMTP offers nothing
stronger.

A sent message's row stays for good (its key is what stops a resend); its bytes are dropped
after KASSA_MAIL_KEEP_SENT_DAYS, since reports with charts weigh a few hundred KiB each.

Messages are 7-bit clean (base64 bodies, RFC 2047 headers, RFC 2231 file names): any relay
passes them, and no SMTPUTF8 is needed. A recipient's Cyrillic domain (пример.рф) is sent as
punycode; a Cyrillic local part would need SMTPUTF8 and is refused when the message is built.
"""

from __future__ import annotations

import base64
import builtins
import codecs
import datetime as dt
import hashlib
import logging
import re
import smtplib
import sqlite3
import ssl
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

SMTP_PREFIX = "KASSA_SMTP_"

# Every header RFC 2047-encoded and every body base64 or quoted-printable, lines ending in CRLF:
# the bytes smtplib sends as they are.
WIRE_POLICY = policy.SMTP.clone(cte_type="7bit")

Language = Literal["ru", "en"]
LANGUAGES: tuple[Language, ...] = ("ru", "en")


# --- settings -----------------------------------------------------------------------------


class Security(StrEnum):
    """How the connection to the SMTP server is protected."""

    none = "none"  # plain SMTP: a relay on this machine or the local network
    starttls = "starttls"  # plain connect, then STARTTLS (submission, usually port 587)
    ssl = "ssl"  # TLS from the first byte (SMTPS, usually port 465)


class MailSettingsError(ValueError):
    """A mail setting is wrong; the message names the environment variable and what is allowed."""


class MailSettings(BaseSettings):
    """SMTP (`KASSA_SMTP_*`) and the outbox (`KASSA_MAIL_*`).

    The port defaults to 25 whatever the security: set KASSA_SMTP_PORT=587 for STARTTLS
    submission, 465 for SSL, 8025 for `kassa mail sink`.
    """

    model_config = SettingsConfigDict(
        env_prefix=SMTP_PREFIX, env_file=None, extra="ignore", populate_by_name=True
    )

    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    security: Security = Security.none
    sender: str = Field(default="Kassa <kassa@localhost>", validation_alias="KASSA_SMTP_FROM")
    # One socket operation (connect, a command, a block of DATA), not the whole message.
    timeout_seconds: float = Field(default=30, gt=0, le=600)
    # Extra CA certificates to trust besides the system's: a relay with a private CA.
    ca_file: Path | None = None
    outbox: Path = Field(default=Path("var/mail/outbox.db"), validation_alias="KASSA_MAIL_OUTBOX")
    # After the n-th failed attempt the next is base * 2^(n-1) seconds later, at most max.
    retry_base_seconds: float = Field(
        default=60, gt=0, validation_alias="KASSA_MAIL_RETRY_BASE_SECONDS"
    )
    retry_max_seconds: float = Field(
        default=3600, gt=0, validation_alias="KASSA_MAIL_RETRY_MAX_SECONDS"
    )
    # A sent message's bytes are dropped after this many days (its row stays, so its key is
    # never sent again): a year of daily reports with charts would otherwise be gigabytes.
    keep_sent_days: int = Field(default=30, ge=1, validation_alias="KASSA_MAIL_KEEP_SENT_DAYS")
    # A message claimed longer ago than this by a deliverer that never finished is sent again.
    claim_timeout_seconds: float = Field(
        default=900, gt=0, validation_alias="KASSA_MAIL_CLAIM_TIMEOUT_SECONDS"
    )

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        value = value.strip()
        if not value or any(ch.isspace() for ch in value):
            raise ValueError("is not a host name or address; write one such as smtp.example.ru")
        return value

    @field_validator("username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        return value or None  # an empty variable means "no login"

    @field_validator("password")
    @classmethod
    def _password(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value() else None

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        return str(parse_address(value))

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError("is not a file of PEM certificates")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> MailSettings:
        if self.password is not None and self.username is None:
            raise ValueError("KASSA_SMTP_PASSWORD is set but KASSA_SMTP_USERNAME is not")
        if self.username is not None and self.password is None:
            raise ValueError(
                f"KASSA_SMTP_USERNAME={self.username!r} is set but KASSA_SMTP_PASSWORD is not"
            )
        if self.retry_max_seconds < self.retry_base_seconds:
            raise ValueError(
                f"KASSA_MAIL_RETRY_MAX_SECONDS={self.retry_max_seconds:g} is less than "
                f"KASSA_MAIL_RETRY_BASE_SECONDS={self.retry_base_seconds:g}"
            )
        if self.claim_timeout_seconds < 4 * self.timeout_seconds:
            raise ValueError(
                f"KASSA_MAIL_CLAIM_TIMEOUT_SECONDS={self.claim_timeout_seconds:g} must be at "
                f"least 4 x KASSA_SMTP_TIMEOUT_SECONDS={self.timeout_seconds:g}: a message still "
                "being sent would be taken for abandoned and sent twice"
            )
        return self

    @property
    def sender_address(self) -> str:
        """The envelope sender (MAIL FROM): the address of KASSA_SMTP_FROM without its name."""
        return parse_address(self.sender).addr_spec


def _env_name(field_name: str) -> str:
    alias = MailSettings.model_fields[field_name].validation_alias
    return alias if isinstance(alias, str) else f"{SMTP_PREFIX}{field_name.upper()}"


def load_mail_settings(**overrides: object) -> MailSettings:
    """The settings from the environment; a bad value raises `MailSettingsError` naming its
    variable, e.g. `KASSA_SMTP_PORT='smtp': Input should be a valid integer`."""
    try:
        return MailSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise MailSettingsError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        if not error["loc"]:  # a rule across settings: its message names them
            lines.append(message)
            continue
        where = str(error["loc"][0])
        name = where if where.startswith("KASSA_") else _env_name(where)
        if name == "KASSA_SMTP_PASSWORD":  # never repeat a password
            lines.append(f"{name}: {message}")
            continue
        value = repr(error.get("input"))
        lines.append(f"{name}: {message}" if value in message else f"{name}={value}: {message}")
    return "bad mail setting: " + "; ".join(lines)


# --- addresses and keys -------------------------------------------------------------------


def parse_address(value: str) -> Address:
    """One mailbox from `Name <local@domain>` or `local@domain`; the name may be Cyrillic, a
    Cyrillic domain becomes punycode. Raises ValueError saying what is wrong."""
    try:
        header = WIRE_POLICY.header_factory("to", value)
        addresses = header.addresses
        defects = list(header.defects)
    except Exception:  # the stdlib parser fails with IndexError and friends on some garbage
        raise ValueError(f"{value!r} is not an e-mail address") from None
    if len(addresses) != 1:
        raise ValueError(f"{value!r} is not one e-mail address")
    address: Address = addresses[0]
    if not address.username.isascii():
        raise ValueError(
            f"{value!r}: a non-Latin local part (before the @) needs SMTPUTF8, which Kassa "
            "does not use; give a Latin address"
        )
    if defects or not address.username or not address.domain:
        raise ValueError(f"{value!r} is not an e-mail address")
    domain = address.domain
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(f"{value!r}: {domain!r} is not a valid domain") from None
    return Address(display_name=address.display_name, username=address.username, domain=domain)


def outbox_key(kind: str, *parts: str | dt.date, recipient: str) -> str:
    """The outbox key of one e-mail: `report:daily:2026-11-27:owner@example.ru`,
    `alert:daily:2026-11-27:<fingerprint>:ops@example.ru`. The address is lower-cased, so
    `Owner@Example.RU` is the same recipient; no part may contain `:`, so two different
    messages never share a key."""
    texts = [kind, *(p.isoformat() if isinstance(p, dt.date) else p for p in parts)]
    for text in texts:
        if not text or ":" in text or any(ch.isspace() for ch in text):
            raise ValueError(f"outbox key part {text!r} must be non-empty, without ':' or spaces")
    return ":".join([*texts, parse_address(recipient).addr_spec.lower()])


def message_id_for(key: str, sender: str) -> str:
    """A Message-ID that is the same whenever the same key is sent, so a resend after a crash
    can be recognised; a digest, so the key (and the address in it) is not shown."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"<kassa.{digest}@{parse_address(sender).domain}>"


# --- the message --------------------------------------------------------------------------

_IMAGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")
_CID_REFERENCE = re.compile(r"""cid:([^"'\s<>)]+)""")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def build_message(
    *,
    key: str,
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str,
    language: Language,
    images: Mapping[str, bytes] | None = None,
    attachments: Mapping[str, bytes] | None = None,
    date: dt.datetime | None = None,
) -> EmailMessage:
    """The e-mail for one recipient: text and HTML alternatives, the HTML's PNG charts inline,
    CSV attachments.

    `html` refers to each image as `cid:<name>`, `images` maps those names to PNG bytes; every
    reference must have an image and every image a reference (a broken or stray chart is a bug).
    `attachments` maps file names (Cyrillic is fine, they end in .csv) to UTF-8 CSV bytes; a
    UTF-8 BOM is put in front when missing, because Excel reads a CSV without one as cp1251.
    `language` is the recipient's, and goes into Content-Language. Raises ValueError.
    """
    if language not in LANGUAGES:
        raise ValueError(f"language {language!r} is not one of {', '.join(LANGUAGES)}")
    if not key:
        raise ValueError("the outbox key is empty")
    images = dict(images or {})
    attachments = dict(attachments or {})
    _check_images(html, images)

    message = EmailMessage(policy=WIRE_POLICY)
    message["From"] = parse_address(sender)
    message["To"] = parse_address(to)
    message["Subject"] = subject
    message["Date"] = format_datetime(_aware(date or dt.datetime.now(dt.UTC)))
    message["Message-ID"] = message_id_for(key, sender)

    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    html_part = list(message.iter_parts())[1]
    for name, png in images.items():
        filename = name if name.lower().endswith(".png") else f"{name}.png"
        html_part.add_related(
            png,
            maintype="image",
            subtype="png",
            cid=f"<{name}>",
            disposition="inline",
            filename=filename,
        )
    for filename, data in attachments.items():
        message.add_attachment(
            _csv_with_bom(filename, data),
            maintype="text",
            subtype="csv",
            filename=filename,
            params={"charset": "utf-8"},
        )
    for part in message.walk():  # the stdlib repeats MIME-Version in parts it adds
        if part is not message:
            del part["MIME-Version"]
    # Last: set_content and friends drop every Content-* header already there.
    message["Content-Language"] = language
    # RFC 3834: an automatic message; auto-responders (out of office) must not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"  # the same for Exchange and Outlook
    return message


def _check_images(html: str, images: Mapping[str, bytes]) -> None:
    for name, png in images.items():
        if not _IMAGE_NAME.fullmatch(name):
            raise ValueError(f"image name {name!r}: use Latin letters, digits and . _ @ - only")
        if not png.startswith(_PNG_SIGNATURE):
            raise ValueError(f"image {name!r} is not a PNG")
    referenced = set(_CID_REFERENCE.findall(html))
    if missing := sorted(referenced - images.keys()):
        raise ValueError(f"the HTML refers to images that were not given: {', '.join(missing)}")
    if stray := sorted(images.keys() - referenced):
        raise ValueError(f"images not referred to as cid:<name> in the HTML: {', '.join(stray)}")


def _csv_with_bom(filename: str, data: bytes) -> bytes:
    if not filename.lower().endswith(".csv") or "/" in filename or "\\" in filename:
        raise ValueError(f"attachment {filename!r} must be a file name ending in .csv")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"attachment {filename!r} is not UTF-8 ({exc.reason})") from None
    return data if data.startswith(codecs.BOM_UTF8) else codecs.BOM_UTF8 + data


# --- the outbox ---------------------------------------------------------------------------


class Status(StrEnum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed_permanently = "failed_permanently"


@dataclass(frozen=True)
class OutboxEntry:
    """One row of the outbox, without the message bytes (see `Outbox.message`)."""

    key: str
    kind: str
    recipient: str
    subject: str
    status: Status
    attempts: int
    last_error: str | None
    next_attempt_at: dt.datetime
    created_at: dt.datetime
    sent_at: dt.datetime | None


@dataclass
class DeliveryReport:
    """What one `deliver` did: keys sent, keys deferred (with why) and keys that failed for
    good (with the server's answer)."""

    sent: list[str] = field(default_factory=list)
    deferred: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def all_sent(self) -> bool:
        return not self.deferred and not self.failed

    def summary(self) -> str:
        return (
            f"{len(self.sent)} sent, {len(self.deferred)} deferred, "
            f"{len(self.failed)} failed permanently"
        )


SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    message BLOB NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('pending', 'sending', 'sent', 'failed_permanently')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_attempt_at TEXT NOT NULL,
    claimed_at TEXT,
    claimed_by TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_at);
"""
_COLUMNS = (
    "key, kind, recipient, subject, status, attempts, last_error, next_attempt_at, created_at,"
    " sent_at"
)


class Outbox:
    """The outbox file; every call opens its own connection, so one `Outbox` may be used from
    several threads and several processes may use one file."""

    def __init__(self, path: str | Path, *, busy_timeout_seconds: float = 30) -> None:
        self.path = Path(path)
        self.busy_timeout_seconds = busy_timeout_seconds
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn, _write(conn):
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"the outbox {self.path} was made by a newer Kassa (schema {version})"
                )
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout_seconds, isolation_level=None
        )  # isolation_level=None: transactions are the explicit BEGIN IMMEDIATE ... COMMIT
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_seconds * 1000):d}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            yield conn
        finally:
            conn.close()

    def enqueue(
        self, key: str, message: EmailMessage, *, kind: str, now: dt.datetime | None = None
    ) -> bool:
        """Queue `message` under `key`; False, and nothing changes, when the key is already
        there in any state: a re-run never queues an e-mail twice. The message has one
        recipient (To, no Cc or Bcc) and is stored as the exact bytes that will be sent."""
        if not key or not kind:
            raise ValueError("an outbox message needs a key and a kind")
        recipient = _the_recipient(message)
        if message["Message-ID"] is None:
            raise ValueError("the message has no Message-ID; build it with build_message")
        data = message.as_bytes(policy=WIRE_POLICY)
        stamp = _stamp(_aware(now or dt.datetime.now(dt.UTC)))
        with self._connect() as conn, _write(conn):
            cursor = conn.execute(
                "INSERT INTO outbox (key, kind, recipient, subject, message, status, attempts,"
                " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)"
                " ON CONFLICT (key) DO NOTHING",
                (key, kind, recipient, str(message["Subject"] or ""), data, stamp, stamp),
            )
            return cursor.rowcount == 1

    def deliver(self, settings: MailSettings, *, now: dt.datetime | None = None) -> DeliveryReport:
        """Send every message that is due, each once, over one SMTP connection; see the module
        docstring for what happens on each kind of failure. Connects only when something is
        due. Drops the bytes of messages sent longer ago than KASSA_MAIL_KEEP_SENT_DAYS first.
        `now` is for tests; the clock runs on from it."""
        clock = _Clock(now)
        report = DeliveryReport()
        claimer = uuid.uuid4().hex
        tried: builtins.list[str] = []
        self.prune_sent(dt.timedelta(days=settings.keep_sent_days), now=clock())
        with self._connect() as conn:
            if not self._anything_due(conn, clock(), settings):
                return report
            smtp: smtplib.SMTP | None = None
            try:
                while True:
                    if smtp is None:
                        try:
                            smtp = _open(settings)
                        except (OSError, smtplib.SMTPException) as exc:
                            error = _connection_error(exc, settings)
                            for key in self._defer_all_due(conn, clock(), error, settings):
                                report.deferred[key] = error
                            break
                    claimed = self._claim(conn, clock(), claimer, tried, settings)
                    if claimed is None:
                        break
                    key, recipient, data = claimed
                    tried.append(key)
                    outcome, error = _send(smtp, settings.sender_address, recipient, data)
                    if outcome is _Outcome.sent:
                        self._mark_sent(conn, key, clock())
                        report.sent.append(key)
                        continue
                    self._release(conn, key, claimer, outcome, error, clock(), settings)
                    if outcome is _Outcome.failed:
                        report.failed[key] = error
                    else:
                        report.deferred[key] = error
                    if outcome is _Outcome.broken:
                        _quit(smtp)
                        smtp = None
            finally:
                if smtp is not None:
                    _quit(smtp)
        if report.sent or report.deferred or report.failed:
            log.info("mail: %s", report.summary())
        return report

    def pending(self) -> builtins.list[OutboxEntry]:
        """Messages not yet sent nor failed (pending or being sent), next due first."""
        return self._entries(
            "WHERE status IN ('pending', 'sending') ORDER BY next_attempt_at, created_at, key"
        )

    def list(
        self, *, status: Status | None = None, limit: int | None = None
    ) -> builtins.list[OutboxEntry]:
        """Every message (or those with `status`), newest first."""
        where = "WHERE status = ?" if status is not None else ""
        params: tuple[object, ...] = (str(status),) if status is not None else ()
        tail = f"{where} ORDER BY created_at DESC, key"
        if limit is not None:
            tail += " LIMIT ?"
            params = (*params, limit)
        return self._entries(tail, params)

    def message(self, key: str) -> bytes | None:
        """The stored message, exactly as it is (or was) sent; None when there is no such key
        or it was sent long enough ago to be pruned."""
        with self._connect() as conn:
            row = conn.execute("SELECT message FROM outbox WHERE key = ?", (key,)).fetchone()
        return bytes(row[0]) if row is not None and row[0] else None

    def prune_sent(self, keep: dt.timedelta, *, now: dt.datetime | None = None) -> int:
        """Drop the bytes of messages sent more than `keep` ago and say how many; their rows
        stay, so their keys are still never sent again."""
        cutoff = _stamp(_aware(now or dt.datetime.now(dt.UTC)) - keep)
        with self._connect() as conn, _write(conn):
            return conn.execute(
                "UPDATE outbox SET message = X'' WHERE status = 'sent' AND sent_at < ?"
                " AND length(message) > 0",
                (cutoff,),
            ).rowcount

    # --- internals ---

    def _entries(self, tail: str, params: tuple[object, ...] = ()) -> builtins.list[OutboxEntry]:
        query = f"SELECT {_COLUMNS} FROM outbox {tail}"  # noqa: S608 - constants only
        with self._connect() as conn:
            rows = conn.execute(query, params).fetchall()
        return [
            OutboxEntry(
                key=row[0],
                kind=row[1],
                recipient=row[2],
                subject=row[3],
                status=Status(row[4]),
                attempts=row[5],
                last_error=row[6],
                next_attempt_at=_parse(row[7]),
                created_at=_parse(row[8]),
                sent_at=_parse(row[9]) if row[9] else None,
            )
            for row in rows
        ]

    def _anything_due(self, conn: sqlite3.Connection, now: dt.datetime, s: MailSettings) -> bool:
        row = conn.execute(
            "SELECT 1 FROM outbox WHERE (status = 'pending' AND next_attempt_at <= ?)"
            " OR (status = 'sending' AND claimed_at < ?) LIMIT 1",
            (_stamp(now), _stamp(now - dt.timedelta(seconds=s.claim_timeout_seconds))),
        ).fetchone()
        return row is not None

    def _claim(
        self,
        conn: sqlite3.Connection,
        now: dt.datetime,
        claimer: str,
        tried: builtins.list[str],
        s: MailSettings,
    ) -> tuple[str, str, bytes] | None:
        """Take the next due message (not one tried in this delivery) for this deliverer, first
        putting back those whose deliverer has held them past the claim timeout: it died."""
        stale = _stamp(now - dt.timedelta(seconds=s.claim_timeout_seconds))
        not_tried = f" AND key NOT IN ({', '.join('?' * len(tried))})" if tried else ""
        with _write(conn):
            for key, claimed_at in conn.execute(
                "SELECT key, claimed_at FROM outbox WHERE status = 'sending' AND claimed_at < ?",
                (stale,),
            ).fetchall():
                log.warning("mail: %s was claimed at %s and never finished", key, claimed_at)
                conn.execute(
                    "UPDATE outbox SET status = 'pending', claimed_at = NULL, claimed_by = NULL,"
                    " next_attempt_at = ?, last_error = ? WHERE key = ?",
                    (
                        _stamp(now),
                        f"claimed at {claimed_at} by a deliverer that never finished; it may "
                        "have been sent, so it is sent again with the same Message-ID",
                        key,
                    ),
                )
            row = conn.execute(
                "SELECT key, recipient, message FROM outbox"  # noqa: S608 - placeholders only
                f" WHERE status = 'pending' AND next_attempt_at <= ?{not_tried}"
                " ORDER BY next_attempt_at, created_at, key LIMIT 1",
                (_stamp(now), *tried),
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE outbox SET status = 'sending', claimed_at = ?, claimed_by = ?"
                " WHERE key = ?",
                (_stamp(now), claimer, row[0]),
            )
        return str(row[0]), str(row[1]), bytes(row[2])

    def _mark_sent(self, conn: sqlite3.Connection, key: str, now: dt.datetime) -> None:
        """Whoever holds the claim now: the server has the message, so nobody may send it
        again. Retried, because a lost `sent` mark means a duplicate e-mail later."""
        for attempt in range(3):
            try:
                with _write(conn):
                    conn.execute(
                        "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1,"
                        " last_error = NULL, claimed_at = NULL, claimed_by = NULL"
                        " WHERE key = ? AND status != 'sent'",
                        (_stamp(now), key),
                    )
                return
            except sqlite3.OperationalError:
                if attempt == 2:
                    log.exception("mail: %s was sent but could not be marked sent", key)
                    raise
                time.sleep(1)

    def _release(
        self,
        conn: sqlite3.Connection,
        key: str,
        claimer: str,
        outcome: _Outcome,
        error: str,
        now: dt.datetime,
        s: MailSettings,
    ) -> None:
        """Give back a claimed message that was not sent: pending again with its next attempt
        time, or failed for good. Only while this deliverer still holds the claim."""
        with _write(conn):
            row = conn.execute(
                "SELECT attempts FROM outbox WHERE key = ? AND claimed_by = ?", (key, claimer)
            ).fetchone()
            if row is None:
                log.warning("mail: %s was taken back from this deliverer: too slow", key)
                return
            attempts = row[0] + 1
            status = Status.failed_permanently if outcome is _Outcome.failed else Status.pending
            conn.execute(
                "UPDATE outbox SET status = ?, attempts = ?, last_error = ?,"
                " next_attempt_at = ?, claimed_at = NULL, claimed_by = NULL WHERE key = ?",
                (str(status), attempts, error, _stamp(now + backoff(attempts, s)), key),
            )
        if status is Status.failed_permanently:
            log.error("mail: %s failed permanently: %s", key, error)
        else:
            log.warning("mail: %s deferred (attempt %d): %s", key, attempts, error)

    def _defer_all_due(
        self, conn: sqlite3.Connection, now: dt.datetime, error: str, s: MailSettings
    ) -> builtins.list[str]:
        """The server cannot be reached or will not let us in: every due message waits, one
        attempt more, without a connection attempt per message."""
        with _write(conn):
            rows = conn.execute(
                "SELECT key, attempts FROM outbox"
                " WHERE status = 'pending' AND next_attempt_at <= ?",
                (_stamp(now),),
            ).fetchall()
            for key, attempts in rows:
                conn.execute(
                    "UPDATE outbox SET attempts = ?, last_error = ?, next_attempt_at = ?"
                    " WHERE key = ?",
                    (attempts + 1, error, _stamp(now + backoff(attempts + 1, s)), key),
                )
        if rows:
            log.warning("mail: %d message(s) deferred: %s", len(rows), error)
        return [str(key) for key, _ in rows]


def backoff(attempts: int, settings: MailSettings) -> dt.timedelta:
    """How long to wait after the `attempts`-th failed attempt: base, 2 x base, 4 x base, ...
    never more than the max."""
    seconds = settings.retry_base_seconds * 2 ** min(max(attempts - 1, 0), 32)
    return dt.timedelta(seconds=min(seconds, settings.retry_max_seconds))


# --- SMTP ---------------------------------------------------------------------------------


class _Outcome(StrEnum):
    sent = "sent"
    failed = "failed"  # for good: the server refused the recipient or the message (5xx)
    deferred = "deferred"  # try later (4xx); the connection is still good
    broken = "broken"  # try later; the connection is not to be used again


def _open(settings: MailSettings) -> smtplib.SMTP:
    """A connected, greeted, secured and logged-in SMTP session; raises OSError or
    SMTPException."""
    context = ssl.create_default_context()
    if settings.ca_file is not None:
        context.load_verify_locations(cafile=settings.ca_file)
    smtp: smtplib.SMTP
    if settings.security is Security.ssl:
        smtp = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout_seconds, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
    try:
        smtp.ehlo()
        if settings.security is Security.starttls:
            smtp.starttls(context=context)
            smtp.ehlo()
        if settings.username is not None and settings.password is not None:
            _login(smtp, settings.username, settings.password.get_secret_value())
    except BaseException:
        smtp.close()
        raise
    return smtp


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    """smtplib's login, except for a Cyrillic user name or password: smtplib sends credentials
    as ASCII only, so those go as AUTH PLAIN, which is UTF-8 (RFC 4616)."""
    if username.isascii() and password.isascii():
        smtp.login(username, password)
        return
    mechanisms = smtp.esmtp_features.get("auth", "").upper().split()
    if "PLAIN" not in mechanisms:
        raise smtplib.SMTPNotSupportedError(
            "a non-Latin user name or password needs AUTH PLAIN, which the server does not offer"
        )
    token = base64.b64encode(f"\0{username}\0{password}".encode()).decode("ascii")
    code, answer = smtp.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, answer)


def _send(smtp: smtplib.SMTP, sender: str, recipient: str, data: bytes) -> tuple[_Outcome, str]:
    """Send one message: what became of it, and the server's answer or the error."""
    try:
        refused = smtp.sendmail(sender, [recipient], data)
    except smtplib.SMTPRecipientsRefused as exc:
        code, answer = next(iter(exc.recipients.values()))
        error = f"{code} {_text(answer)} (recipient {recipient} refused)"
        return _permanent_if_5xx(code), error
    except smtplib.SMTPSenderRefused as exc:
        error = f"{exc.smtp_code} {_text(exc.smtp_error)}"
        if exc.smtp_code == 552:  # the message is too big for this server: it always will be
            return _Outcome.failed, f"{error} (message refused)"
        # Any other refusal of the sender is this server's setup, not the message: it waits.
        return _Outcome.deferred, f"{error} (sender {sender} refused: check KASSA_SMTP_FROM)"
    except smtplib.SMTPDataError as exc:
        error = f"{exc.smtp_code} {_text(exc.smtp_error)} (message refused)"
        return _permanent_if_5xx(exc.smtp_code), error
    except (OSError, smtplib.SMTPException) as exc:  # disconnected, timed out, unexpected
        return _Outcome.broken, _error_text(exc)
    if refused:  # cannot happen with one recipient, but never mark a refused message sent
        code, answer = next(iter(refused.values()))
        return _Outcome.deferred, f"{code} {_text(answer)}"
    return _Outcome.sent, ""


def _permanent_if_5xx(code: int) -> _Outcome:
    return _Outcome.failed if 500 <= code < 600 else _Outcome.deferred


def _quit(smtp: smtplib.SMTP) -> None:
    with suppress(OSError, smtplib.SMTPException):
        smtp.quit()
    smtp.close()


def _connection_error(exc: BaseException, settings: MailSettings) -> str:
    where = f"{settings.host}:{settings.port}"
    text = _error_text(exc)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return (
            f"login as {settings.username!r} refused by {where}: {text} "
            "(KASSA_SMTP_USERNAME, KASSA_SMTP_PASSWORD)"
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return (
            f"{where}: {text} (KASSA_SMTP_SECURITY={settings.security}; many servers offer "
            "login only after STARTTLS)"
        )
    if isinstance(exc, ssl.SSLError):
        return f"TLS with {where} failed: {text} (KASSA_SMTP_SECURITY, KASSA_SMTP_CA_FILE)"
    if isinstance(exc, smtplib.SMTPException):
        return f"{where} refused the session: {text}"
    return f"cannot reach the SMTP server {where} (KASSA_SMTP_HOST/PORT): {text}"


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, TimeoutError):
        return f"timed out ({exc})" if str(exc) else "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _text(answer: bytes | str) -> str:
    return answer.decode("utf-8", "replace") if isinstance(answer, bytes) else answer


def _the_recipient(message: EmailMessage) -> str:
    for header in ("Cc", "Bcc"):
        if message[header] is not None:
            raise ValueError(f"an outbox message has one recipient in To, and no {header}")
    to = message["To"]
    addresses = getattr(to, "addresses", None)
    if not addresses or len(addresses) != 1:
        raise ValueError(f"an outbox message has exactly one recipient in To, not {to!r}")
    return str(addresses[0].addr_spec)


# --- time ---------------------------------------------------------------------------------


class _Clock:
    """`now` as given (or the real time), running on with the monotonic clock: a long delivery
    stamps its claims with the time they were made."""

    def __init__(self, now: dt.datetime | None) -> None:
        self._start = _aware(now or dt.datetime.now(dt.UTC))
        self._t0 = time.monotonic()

    def __call__(self) -> dt.datetime:
        return self._start + dt.timedelta(seconds=time.monotonic() - self._t0)


def _aware(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone")
    return moment


def _stamp(moment: dt.datetime) -> str:
    """UTC, fixed width: text order is time order, so SQLite compares them as text."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


@contextmanager
def _write(conn: sqlite3.Connection) -> Iterator[None]:
    """A write transaction that takes the write lock at once (BEGIN IMMEDIATE), so two writers
    queue on busy_timeout instead of failing on a lock upgrade half-way."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
