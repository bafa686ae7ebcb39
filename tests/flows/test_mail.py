"""The mail layer against a real SMTP server on loopback (aiosmtpd; smtplib is not mocked): the
message as a mail client reads it, one e-mail per key across retries and re-runs, SMTP down,
permanent refusals, two deliverers at once, backoff, STARTTLS/SSL and login, the CLI."""

from __future__ import annotations

import codecs
import datetime as dt
import email
import ipaddress
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from typer.testing import CliRunner

from flows.mail import (
    MailSettings,
    MailSettingsError,
    Outbox,
    Status,
    backoff,
    build_message,
    load_mail_settings,
    message_id_for,
    outbox_key,
    parse_address,
)
from flows.mail_sink import SaveToDirectory, saved_messages, start_server, start_sink
from kassa.mail_cli import app as mail_app

MAIL_VARIABLES = (
    "KASSA_SMTP_HOST",
    "KASSA_SMTP_PORT",
    "KASSA_SMTP_USERNAME",
    "KASSA_SMTP_PASSWORD",
    "KASSA_SMTP_SECURITY",
    "KASSA_SMTP_FROM",
    "KASSA_SMTP_TIMEOUT_SECONDS",
    "KASSA_SMTP_CA_FILE",
    "KASSA_MAIL_OUTBOX",
    "KASSA_MAIL_RETRY_BASE_SECONDS",
    "KASSA_MAIL_RETRY_MAX_SECONDS",
    "KASSA_MAIL_CLAIM_TIMEOUT_SECONDS",
    "KASSA_MAIL_KEEP_SENT_DAYS",
)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # a signature and some bytes to carry
T0 = dt.datetime(2026, 11, 28, 6, 15, tzinfo=dt.UTC)
SUBJECT = "Отчёт за 27 ноября 2026 — выручка 1 234 567,89 ₽"
CSV_NAME = "Продажи по магазинам 27.11.2026.csv"
CSV = "Магазин;Выручка\nЦентральный;1234567,89\n".encode()


@pytest.fixture
def mail_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No mail settings from the environment; the working directory (and var/) in tmp."""
    for name in MAIL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    directory = tmp_path / "sink"
    controller, port = start_sink(directory)
    yield directory, port
    controller.stop()


def _settings(tmp_path: Path, port: int, **overrides: Any) -> MailSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "timeout_seconds": 5,
        "KASSA_MAIL_OUTBOX": tmp_path / "outbox.db",
        **overrides,
    }
    return load_mail_settings(**values)


def _report_message(to: str = "Иван Петров <owner@example.ru>", key: str = "k") -> EmailMessage:
    return build_message(
        key=key,
        sender="Касса «Берёзка» <reports@example.ru>",
        to=to,
        subject=SUBJECT,
        text="Выручка за день: 1 234 567,89 ₽\nГрафики — в HTML-версии письма.",
        html=(
            '<html lang="ru"><body><h1>Выручка</h1>'
            '<img src="cid:revenue" alt="Выручка"><img src="cid:top-products.png" alt="Топ">'
            "</body></html>"
        ),
        language="ru",
        images={"revenue": PNG, "top-products.png": PNG + b"2"},
        attachments={CSV_NAME: CSV, "stock.csv": codecs.BOM_UTF8 + b"sku;qty\nA-1;3\n"},
        date=T0,
    )


def _enqueue(outbox: Outbox, n: int, *, to: str = "owner{n}@example.ru") -> list[str]:
    keys = []
    for i in range(n):
        address = to.format(n=i)
        key = outbox_key("report", "daily", dt.date(2026, 11, 27), recipient=address)
        assert outbox.enqueue(key, _report_message(address, key), kind="report", now=T0)
        keys.append(key)
    return keys


def _free_port() -> int:
    """A port nobody listens on (bound, then closed): SMTP is down there."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _about(moment: dt.datetime, expected: dt.datetime) -> bool:
    """Equal but for the time `deliver` itself took: its clock runs on from the `now` given."""
    return expected <= moment <= expected + dt.timedelta(seconds=5)


def _received(directory: Path) -> list[EmailMessage]:
    return [
        email.message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in saved_messages(directory)
    ]


# --- settings -----------------------------------------------------------------------------


def test_settings_defaults(mail_env: Path) -> None:
    settings = load_mail_settings()
    assert (settings.host, settings.port, settings.security) == ("127.0.0.1", 25, "none")
    assert settings.username is None and settings.password is None
    assert settings.sender == "Kassa <kassa@localhost>"
    assert settings.sender_address == "kassa@localhost"
    assert settings.timeout_seconds == 30
    assert settings.outbox == Path("var/mail/outbox.db")
    assert (settings.retry_base_seconds, settings.retry_max_seconds) == (60, 3600)
    assert (settings.claim_timeout_seconds, settings.keep_sent_days) == (900, 30)
    assert not (mail_env / "var").exists()  # reading the settings makes nothing


def test_settings_come_from_the_environment(
    mail_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = mail_env / "ca.pem"
    ca.write_text("-")
    for name, value in {
        "KASSA_SMTP_HOST": "smtp.пример.рф",
        "KASSA_SMTP_PORT": "587",
        "KASSA_SMTP_USERNAME": "отчёты",
        "KASSA_SMTP_PASSWORD": "пароль 123",
        "KASSA_SMTP_SECURITY": "starttls",
        "KASSA_SMTP_FROM": "Касса <reports@пример.рф>",
        "KASSA_SMTP_TIMEOUT_SECONDS": "10",
        "KASSA_SMTP_CA_FILE": str(ca),
        "KASSA_MAIL_OUTBOX": "/data/outbox.db",
        "KASSA_MAIL_RETRY_BASE_SECONDS": "30",
        "KASSA_MAIL_RETRY_MAX_SECONDS": "600",
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_mail_settings()
    assert (settings.host, settings.port, settings.security) == ("smtp.пример.рф", 587, "starttls")
    assert settings.username == "отчёты"
    assert settings.password is not None and settings.password.get_secret_value() == "пароль 123"
    assert "пароль" not in repr(settings)
    assert settings.sender == "Касса <reports@xn--e1afmkfd.xn--p1ai>"
    assert settings.sender_address == "reports@xn--e1afmkfd.xn--p1ai"
    assert settings.ca_file == ca
    assert settings.outbox == Path("/data/outbox.db")
    assert (settings.retry_base_seconds, settings.retry_max_seconds) == (30, 600)


@pytest.mark.parametrize(
    ("variables", "says"),
    [
        ({"KASSA_SMTP_PORT": "smtp"}, "KASSA_SMTP_PORT='smtp': Input should be a valid integer"),
        ({"KASSA_SMTP_PORT": "70000"}, "KASSA_SMTP_PORT='70000': Input should be less than"),
        ({"KASSA_SMTP_HOST": " "}, "KASSA_SMTP_HOST=' ': is not a host name"),
        ({"KASSA_SMTP_SECURITY": "tls"}, "KASSA_SMTP_SECURITY='tls': Input should be 'none'"),
        ({"KASSA_SMTP_FROM": "kassa"}, "KASSA_SMTP_FROM: 'kassa' is not an e-mail"),
        ({"KASSA_SMTP_FROM": "a@b, c@d"}, "KASSA_SMTP_FROM: 'a@b, c@d' is not one"),
        (
            {"KASSA_SMTP_FROM": "касса@example.ru"},
            "KASSA_SMTP_FROM: 'касса@example.ru': a non-Latin local part",
        ),
        ({"KASSA_SMTP_TIMEOUT_SECONDS": "0"}, "KASSA_SMTP_TIMEOUT_SECONDS='0': Input should be"),
        ({"KASSA_SMTP_CA_FILE": "/nonexistent.pem"}, "KASSA_SMTP_CA_FILE='/nonexistent.pem'"),
        ({"KASSA_MAIL_RETRY_BASE_SECONDS": "-1"}, "KASSA_MAIL_RETRY_BASE_SECONDS='-1': Input"),
        (
            {"KASSA_MAIL_RETRY_BASE_SECONDS": "600", "KASSA_MAIL_RETRY_MAX_SECONDS": "60"},
            "KASSA_MAIL_RETRY_MAX_SECONDS=60 is less than KASSA_MAIL_RETRY_BASE_SECONDS=600",
        ),
        ({"KASSA_MAIL_KEEP_SENT_DAYS": "0"}, "KASSA_MAIL_KEEP_SENT_DAYS='0': Input should be"),
        ({"KASSA_MAIL_CLAIM_TIMEOUT_SECONDS": "60"}, "KASSA_MAIL_CLAIM_TIMEOUT_SECONDS=60 must"),
        (
            {"KASSA_SMTP_USERNAME": "reports"},
            "KASSA_SMTP_USERNAME='reports' is set but KASSA_SMTP_PASSWORD is not",
        ),
        (
            {"KASSA_SMTP_PASSWORD": "секрет"},
            "KASSA_SMTP_PASSWORD is set but KASSA_SMTP_USERNAME is not",
        ),
    ],
)
def test_a_bad_setting_is_refused_naming_its_variable(
    mail_env: Path, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], says: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(MailSettingsError) as err:
        load_mail_settings()
    message = str(err.value)
    assert message.startswith("bad mail setting: ")
    assert says in message
    assert "секрет" not in message  # a password is never repeated


# --- the message --------------------------------------------------------------------------


def test_the_message_reads_back_as_html_with_inline_charts_and_csv_attachments() -> None:
    key = "report:daily:2026-11-27:owner@example.ru"
    raw = _report_message(key=key).as_bytes(policy=policy.SMTP)
    assert max(raw) < 128  # 7-bit clean: any relay passes it, no SMTPUTF8 needed
    message: EmailMessage = email.message_from_bytes(raw, policy=policy.default)

    assert message["Subject"] == SUBJECT
    assert str(message["From"]) == "Касса «Берёзка» <reports@example.ru>"
    assert str(message["To"]) == "Иван Петров <owner@example.ru>"
    assert message["Content-Language"] == "ru"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"].datetime == T0
    assert message["Message-ID"] == message_id_for(key, "reports@example.ru")
    assert message.get_content_type() == "multipart/mixed"

    alternative, *attachments = message.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    plain, related = alternative.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert "1 234 567,89 ₽" in plain.get_content()
    assert related.get_content_type() == "multipart/related"
    html_part, *images = related.iter_parts()
    html = html_part.get_content()
    assert html_part.get_content_type() == "text/html" and "Выручка" in html
    assert message.get_body(("html",)) is html_part  # what a mail client shows
    by_cid = {image["Content-ID"].strip("<>"): image for image in images}
    assert set(by_cid) == set(re.findall(r'src="cid:([^"]+)"', html))
    for image in images:
        assert image.get_content_type() == "image/png"
        assert image.get_content_disposition() == "inline"
    assert by_cid["revenue"].get_content() == PNG
    assert by_cid["top-products.png"].get_content() == PNG + b"2"

    files = {part.get_filename(): part for part in attachments}
    assert set(files) == {CSV_NAME, "stock.csv"}
    for part in attachments:
        assert part.get_content_type() == "text/csv"
        assert part.get_content_disposition() == "attachment"
    assert files[CSV_NAME].get_payload(decode=True) == codecs.BOM_UTF8 + CSV  # BOM for Excel
    stock = files["stock.csv"].get_payload(decode=True)
    assert stock == codecs.BOM_UTF8 + b"sku;qty\nA-1;3\n"  # a BOM given is not doubled
    assert b"filename*" in raw  # the Cyrillic file name, RFC 2231-encoded


def test_english_and_a_plain_address() -> None:
    message = build_message(
        key="alert:daily:2026-11-27:abc:ops@example.ru",
        sender="kassa@localhost",
        to="ops@example.ru",
        subject="Quality gate failed for 2026-11-27",
        text="The gate failed.",
        html="<p>The gate failed.</p>",
        language="en",
    )
    assert message["Content-Language"] == "en"
    assert message.get_content_type() == "multipart/alternative"
    assert message["Message-ID"].endswith("@localhost>")


def test_the_message_id_follows_the_key() -> None:
    one = message_id_for("report:daily:2026-11-27:a@example.ru", "Kassa <k@example.ru>")
    assert one == message_id_for("report:daily:2026-11-27:a@example.ru", "k@example.ru")
    assert one != message_id_for("report:daily:2026-11-28:a@example.ru", "k@example.ru")
    assert "a@example.ru" not in one


def test_keys_and_addresses() -> None:
    assert (
        outbox_key("report", "daily", dt.date(2026, 11, 27), recipient="Иван <Owner@Example.RU>")
        == "report:daily:2026-11-27:owner@example.ru"
    )
    assert (
        outbox_key("alert", "daily", "2026-11-27", "f00d", recipient="ops@example.ru")
        == "alert:daily:2026-11-27:f00d:ops@example.ru"
    )
    with pytest.raises(ValueError, match="without ':'"):
        outbox_key("report", "a:b", recipient="ops@example.ru")
    assert parse_address("Иван <ivan@пример.рф>").addr_spec == "ivan@xn--e1afmkfd.xn--p1ai"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"html": '<img src="cid:revenue"><img src="cid:missing">'}, "not given: missing"),
        ({"html": "<p>no charts</p>"}, "not referred to as cid:<name>"),
        ({"images": {"revenue": b"GIF89a"}, "html": '<img src="cid:revenue">'}, "not a PNG"),
        ({"images": {"выручка": PNG}, "html": '<img src="cid:выручка">'}, "Latin letters"),
        ({"attachments": {"s.csv": "Выручка".encode("cp1251")}}, "is not UTF-8"),
        ({"attachments": {"s.xlsx": b"x"}}, "ending in .csv"),
        ({"to": "пётр@example.ru"}, "needs SMTPUTF8"),
        ({"to": "a@example.ru, b@example.ru"}, "is not one e-mail address"),
        ({"to": "<@>"}, "is not an e-mail address"),
        ({"language": "de"}, "is not one of ru, en"),
    ],
)
def test_a_bad_message_is_refused(change: dict[str, Any], says: str) -> None:
    arguments: dict[str, Any] = {
        "key": "k",
        "sender": "kassa@localhost",
        "to": "owner@example.ru",
        "subject": "s",
        "text": "t",
        "html": '<img src="cid:revenue">',
        "language": "ru",
        "images": {"revenue": PNG},
        **change,
    }
    with pytest.raises(ValueError, match=re.escape(says)):
        build_message(**arguments)


# --- the outbox and delivery --------------------------------------------------------------


def test_enqueued_twice_is_one_row_and_one_email(tmp_path: Path, sink: tuple[Path, int]) -> None:
    directory, port = sink
    settings = _settings(tmp_path, port)
    outbox = Outbox(settings.outbox)
    key = outbox_key("report", "daily", "2026-11-27", recipient="owner@example.ru")
    assert outbox.enqueue(key, _report_message(key=key), kind="report") is True
    assert outbox.enqueue(key, _report_message(key=key), kind="report") is False  # a re-run

    report = outbox.deliver(settings)
    assert report.sent == [key] and report.all_sent
    assert outbox.enqueue(key, _report_message(key=key), kind="report") is False  # after sent
    assert outbox.deliver(settings).sent == []

    saved = saved_messages(directory)
    assert len(saved) == 1
    assert saved[0].read_bytes() == outbox.message(key)  # the exact bytes went through
    (received,) = _received(directory)
    assert received["Subject"] == SUBJECT
    assert received.get_body(("html",)) is not None
    [entry] = outbox.list()
    assert (entry.key, entry.status, entry.attempts, entry.kind) == (key, Status.sent, 1, "report")
    assert entry.recipient == "owner@example.ru" and entry.subject == SUBJECT
    assert outbox.pending() == []


def test_old_sent_messages_lose_their_bytes_but_never_go_out_again(
    tmp_path: Path, sink: tuple[Path, int]
) -> None:
    directory, port = sink
    settings = _settings(tmp_path, port, KASSA_MAIL_KEEP_SENT_DAYS=30)
    outbox = Outbox(settings.outbox)
    [key] = _enqueue(outbox, 1)
    assert outbox.deliver(settings, now=T0).sent == [key]
    assert outbox.message(key) is not None
    outbox.deliver(settings, now=T0 + dt.timedelta(days=29))
    assert outbox.message(key) is not None
    outbox.deliver(settings, now=T0 + dt.timedelta(days=31))  # prunes on the way out
    assert outbox.message(key) is None
    [entry] = outbox.list()
    assert entry.status == Status.sent and entry.key == key
    assert outbox.enqueue(key, _report_message(key=key), kind="report") is False
    assert outbox.deliver(settings, now=T0 + dt.timedelta(days=32)).sent == []
    assert len(saved_messages(directory)) == 1


def test_the_outbox_file_is_wal_and_full_sync(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "deep" / "outbox.db")
    with outbox._connect() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000


def test_smtp_down_keeps_everything_pending_then_delivers_it_once(tmp_path: Path) -> None:
    port = _free_port()
    settings = _settings(tmp_path, port)
    outbox = Outbox(settings.outbox)
    keys = _enqueue(outbox, 3)

    down = outbox.deliver(settings, now=T0)
    assert down.sent == [] and set(down.deferred) == set(keys)
    assert all("Connection refused" in error for error in down.deferred.values())
    assert all(f"127.0.0.1:{port}" in error for error in down.deferred.values())
    pending = outbox.pending()
    assert [entry.status for entry in pending] == [Status.pending] * 3
    assert all(entry.attempts == 1 for entry in pending)
    assert all(_about(entry.next_attempt_at, T0 + dt.timedelta(seconds=60)) for entry in pending)
    assert all("Connection refused" in (entry.last_error or "") for entry in pending)

    directory = tmp_path / "sink"
    controller, _ = start_sink(directory, port=port)  # the server is back
    try:
        assert outbox.deliver(settings, now=T0 + dt.timedelta(seconds=30)).sent == []  # not yet
        assert saved_messages(directory) == []
        back = outbox.deliver(settings, now=T0 + dt.timedelta(seconds=61))
        assert sorted(back.sent) == sorted(keys) and back.all_sent
        again = outbox.deliver(settings, now=T0 + dt.timedelta(hours=5))
        assert again.sent == [] and again.all_sent
    finally:
        controller.stop()
    assert len(saved_messages(directory)) == 3
    assert sorted(str(m["To"].addresses[0].addr_spec) for m in _received(directory)) == [
        f"owner{i}@example.ru" for i in range(3)
    ]
    assert [entry.attempts for entry in outbox.list()] == [2, 2, 2]


def test_a_server_that_never_answers_times_out_and_the_message_waits(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (the kernel does) and says nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        settings = _settings(tmp_path, silent.getsockname()[1], timeout_seconds=1)
        outbox = Outbox(settings.outbox)
        [key] = _enqueue(outbox, 1)
        started = time.monotonic()
        report = outbox.deliver(settings, now=T0)
        seconds = time.monotonic() - started
    assert 0.9 <= seconds < 5
    assert "timed out" in report.deferred[key]
    assert outbox.pending()[0].attempts == 1


def test_backoff_doubles_up_to_the_cap_and_is_respected(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, _free_port(), KASSA_MAIL_RETRY_BASE_SECONDS=60, KASSA_MAIL_RETRY_MAX_SECONDS=300
    )
    assert [backoff(n, settings).total_seconds() for n in range(1, 7)] == [
        60,
        120,
        240,
        300,
        300,
        300,
    ]
    outbox = Outbox(settings.outbox)
    [key] = _enqueue(outbox, 1)
    now = T0
    for expected in (60, 120, 240, 300):
        assert outbox.deliver(settings, now=now).deferred.keys() == {key}
        [entry] = outbox.pending()
        assert _about(entry.next_attempt_at, now + dt.timedelta(seconds=expected))
        # Just before it is due: not tried, not even a connection attempt; nothing changes.
        early = outbox.deliver(settings, now=entry.next_attempt_at - dt.timedelta(seconds=1))
        assert early.sent == [] and early.deferred == {}
        assert outbox.pending() == [entry]
        now = entry.next_attempt_at
    assert outbox.pending()[0].attempts == 4


class _Refusing:
    """Saves what it accepts; answers RCPT for some addresses with a fixed refusal."""

    def __init__(self, directory: Path, refusals: dict[str, str]) -> None:
        self.saver = SaveToDirectory(directory)
        self.refusals = refusals

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refusals:
            return self.refusals[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return await self.saver.handle_DATA(server, session, envelope)


def test_a_550_fails_permanently_with_the_server_answer_and_a_452_waits(tmp_path: Path) -> None:
    directory = tmp_path / "sink"
    handler = _Refusing(
        directory,
        {
            "gone@example.ru": "550 5.1.1 <gone@example.ru>: ящик не существует",
            "full@example.ru": "452 4.2.2 <full@example.ru>: mailbox full, try later",
        },
    )
    controller, port = start_server(handler)
    try:
        settings = _settings(tmp_path, port)
        outbox = Outbox(settings.outbox)
        gone, full, fine = (
            _enqueue(outbox, 1, to="gone@example.ru")
            + _enqueue(outbox, 1, to="full@example.ru")
            + _enqueue(outbox, 1, to="fine@example.ru")
        )
        report = outbox.deliver(settings, now=T0)
        assert report.sent == [fine]  # the same connection goes on after a refusal
        assert report.failed == {
            gone: "550 5.1.1 <gone@example.ru>: ящик не существует (recipient gone@example.ru refused)"
        }
        assert set(report.deferred) == {full} and "452 4.2.2" in report.deferred[full]

        [failed] = outbox.list(status=Status.failed_permanently)
        assert failed.key == gone and "ящик не существует" in (failed.last_error or "")
        [waiting] = outbox.pending()
        assert waiting.key == full and waiting.attempts == 1
        later = outbox.deliver(settings, now=T0 + dt.timedelta(days=1))
        assert later.failed == {} and set(later.deferred) == {full}  # the 550 is not retried
    finally:
        controller.stop()
    assert [str(m["To"]) for m in _received(directory)] == ["fine@example.ru"]


def test_a_5xx_for_the_message_fails_it_and_a_4xx_defers_it(tmp_path: Path) -> None:
    answers = iter(["554 5.6.0 содержимое отклонено", "451 4.3.0 try again"])

    class Picky:
        async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
            return next(answers)

    controller, port = start_server(Picky())
    try:
        settings = _settings(tmp_path, port)
        outbox = Outbox(settings.outbox)
        first, second = _enqueue(outbox, 2)
        report = outbox.deliver(settings, now=T0)
    finally:
        controller.stop()
    assert report.failed == {first: "554 5.6.0 содержимое отклонено (message refused)"}
    assert report.deferred == {second: "451 4.3.0 try again (message refused)"}


def test_two_deliverers_at_once_send_each_message_once(tmp_path: Path) -> None:
    directory = tmp_path / "sink"

    class Slow(SaveToDirectory):
        async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
            time.sleep(0.005)  # hold the server thread: the deliverers overlap
            return await super().handle_DATA(server, session, envelope)

    controller, port = start_server(Slow(directory))
    try:
        settings = _settings(tmp_path, port)
        keys = _enqueue(Outbox(settings.outbox), 40)
        start = threading.Barrier(3)
        reports: list[Any] = []

        def deliver() -> None:
            outbox = Outbox(settings.outbox)
            start.wait()
            reports.append(outbox.deliver(settings))

        threads = [threading.Thread(target=deliver) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        controller.stop()
    sent = [key for report in reports for key in report.sent]
    assert len(reports) == 3 and all(report.all_sent for report in reports)
    assert sorted(sent) == sorted(keys)  # each once, none twice
    assert sum(1 for report in reports if report.sent) >= 2  # they did run at the same time
    received = _received(directory)
    assert len(received) == 40
    assert len({m["Message-ID"] for m in received}) == 40


def test_a_claim_abandoned_by_a_dead_deliverer_is_sent_again_with_the_same_message_id(
    tmp_path: Path, sink: tuple[Path, int]
) -> None:
    directory, port = sink
    settings = _settings(tmp_path, port, KASSA_MAIL_CLAIM_TIMEOUT_SECONDS=600)
    outbox = Outbox(settings.outbox)
    [key] = _enqueue(outbox, 1)
    # A deliverer claimed it at T0 and died (after the server took it, or before).
    with sqlite3.connect(settings.outbox) as conn:
        conn.execute(
            "UPDATE outbox SET status = 'sending', claimed_at = ?, claimed_by = 'dead'",
            ("2026-11-28T06:15:00.000000Z",),
        )
    assert outbox.deliver(settings, now=T0 + dt.timedelta(seconds=599)).sent == []  # still "busy"
    assert outbox.pending()[0].status == Status.sending
    report = outbox.deliver(settings, now=T0 + dt.timedelta(seconds=601))
    assert report.sent == [key]
    (received,) = _received(directory)
    assert received["Message-ID"] == message_id_for(key, "reports@example.ru")


# --- TLS and login ------------------------------------------------------------------------


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA), made here: no internet."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Kassa test SMTP")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _server_tls(cert: Path, key: Path) -> Any:
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def _authenticator(user: str, password: str) -> Any:
    def check(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            user.encode(),
            password.encode(),
        )
        return AuthResult(success=ok, handled=False)

    return check


@pytest.mark.parametrize(
    ("user", "password"), [("reports", "s3cret"), ("отчёты", "пароль с пробелом")]
)
def test_starttls_and_login(tmp_path: Path, user: str, password: str) -> None:
    cert, key = _certificate(tmp_path)
    directory = tmp_path / "sink"
    controller, port = start_sink(
        directory,
        tls_context=_server_tls(cert, key),
        require_starttls=True,
        authenticator=_authenticator(user, password),
        auth_required=True,
    )
    try:
        outbox = Outbox(tmp_path / "outbox.db")
        _enqueue(outbox, 2)
        common = {"ca_file": cert, "security": "starttls"}

        plain = _settings(tmp_path, port, username=user, password=password, security="none")
        [error] = set(outbox.deliver(plain, now=T0).deferred.values())
        assert "only after STARTTLS" in error  # no AUTH offered in clear text

        untrusted = _settings(tmp_path, port, username=user, password=password, security="starttls")
        [error] = set(outbox.deliver(untrusted, now=T0 + dt.timedelta(hours=1)).deferred.values())
        assert "TLS with 127.0.0.1" in error and "CERTIFICATE_VERIFY_FAILED" in error

        wrong = _settings(tmp_path, port, username=user, password="wrong", **common)
        [error] = set(outbox.deliver(wrong, now=T0 + dt.timedelta(hours=2)).deferred.values())
        assert f"login as {user!r} refused" in error and "535" in error
        assert "wrong" not in error

        right = _settings(tmp_path, port, username=user, password=password, **common)
        report = outbox.deliver(right, now=T0 + dt.timedelta(hours=3))
        assert len(report.sent) == 2 and report.all_sent
    finally:
        controller.stop()
    assert len(saved_messages(directory)) == 2


def test_implicit_tls(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    directory = tmp_path / "sink"
    controller, port = start_sink(directory, ssl_context=_server_tls(cert, key))
    try:
        settings = _settings(tmp_path, port, security="ssl", ca_file=cert)
        outbox = Outbox(settings.outbox)
        [key_] = _enqueue(outbox, 1)
        assert outbox.deliver(settings).sent == [key_]
    finally:
        controller.stop()
    assert len(saved_messages(directory)) == 1


# --- the sink and the CLI -----------------------------------------------------------------


def test_port_zero_needs_a_numeric_address(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="numeric address"):
        start_sink(tmp_path, host="localhost", port=0)


runner = CliRunner()


def test_cli_send_and_outbox(mail_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = runner.invoke(mail_app, ["outbox"])
    assert result.exit_code == 0 and "no outbox at var/mail/outbox.db yet" in result.output
    result = runner.invoke(mail_app, ["send"])
    assert result.exit_code == 0 and "nothing to send" in result.output
    assert not (mail_env / "var").exists()

    port = _free_port()
    monkeypatch.setenv("KASSA_SMTP_PORT", str(port))
    monkeypatch.setenv("KASSA_SMTP_TIMEOUT_SECONDS", "5")
    outbox = Outbox(load_mail_settings().outbox)
    [key] = _enqueue(outbox, 1)

    result = runner.invoke(mail_app, ["send"])
    assert result.exit_code == 1
    assert f"deferred  {key}: cannot reach the SMTP server 127.0.0.1:{port}" in result.output
    result = runner.invoke(mail_app, ["outbox"])
    assert result.exit_code == 0
    assert f"pending              1  {key}  «{SUBJECT}»" in result.output
    assert "next attempt" in result.output and "Connection refused" in result.output

    controller, _ = start_sink(mail_env / "sink", port=port)
    try:
        with sqlite3.connect(outbox.path) as conn:  # make it due now
            conn.execute("UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00.000000Z'")
        result = runner.invoke(mail_app, ["send"])
    finally:
        controller.stop()
    assert result.exit_code == 0, result.output
    assert f"sent      {key}" in result.output and "1 sent, 0 deferred" in result.output
    result = runner.invoke(mail_app, ["outbox", "--status", "sent"])
    assert f"sent                 2  {key}" in result.output
    result = runner.invoke(mail_app, ["send"])
    assert result.exit_code == 0 and "nothing was due" in result.output


def test_cli_bad_input_is_named_without_a_traceback(
    mail_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KASSA_SMTP_SECURITY", "tls")
    for command in (["send"], ["outbox"]):
        result = runner.invoke(mail_app, command)
        assert result.exit_code == 2
        assert "KASSA_SMTP_SECURITY='tls'" in result.output
        assert "Traceback" not in result.output
    result = runner.invoke(mail_app, ["outbox", "--status", "lost"])
    assert result.exit_code == 2 and "write one of pending" in result.output


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_cli_sink_runs_until_stopped(tmp_path: Path, stop: signal.Signals) -> None:
    directory = tmp_path / "mail"
    command = ["sink", "--dir", str(directory), "--port", "0"]
    process = subprocess.Popen(
        [sys.executable, "-c", "from kassa.mail_cli import app; app()", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.search(r"SMTP sink on 127\.0\.0\.1:(\d+)", first)
        assert match, first
        port = int(match.group(1))
        settings = _settings(tmp_path, port)
        outbox = Outbox(settings.outbox)
        [key] = _enqueue(outbox, 1)
        assert outbox.deliver(settings).sent == [key]
        assert "received " in process.stdout.readline()
        process.send_signal(stop)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err
    [saved] = saved_messages(directory)
    assert saved.read_bytes() == outbox.message(key)
