"""`kassa mail ...`: the outbox of report and alert e-mails, and a local SMTP sink for the demo.

The flows and aiosmtpd are imported inside the commands, so `kassa` starts without them (a till
install has neither).
"""

from __future__ import annotations

import signal
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from flows.mail import MailSettings, OutboxEntry

app = typer.Typer(
    help="Report and alert e-mail: the outbox, sending what is due, a local SMTP sink.",
    no_args_is_help=True,
)

STATUSES = ("pending", "sending", "sent", "failed_permanently")


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code=code)


def _settings() -> MailSettings:
    from flows.mail import MailSettingsError, load_mail_settings

    try:
        return load_mail_settings()
    except MailSettingsError as exc:
        raise _fail(str(exc), code=2) from None


@app.command()
def sink(
    directory: Path = typer.Option(
        Path("var/mail"), "--dir", help="Where each received message is saved as an .eml file."
    ),
    host: str = typer.Option("127.0.0.1", help="The address to listen on."),
    port: int = typer.Option(8025, min=0, max=65535, help="The port to listen on (0: any)."),
) -> None:
    """Run a local SMTP server that saves each message it gets as .eml, until Ctrl-C.

    Point Kassa at it with KASSA_SMTP_HOST and KASSA_SMTP_PORT.
    """
    from flows.mail_sink import start_sink

    def saved(path: Path, envelope: object) -> None:
        recipients = ", ".join(getattr(envelope, "rcpt_tos", []))
        typer.echo(f"received {path.name} for {recipients}")

    try:
        controller, bound = start_sink(directory, host, port, on_saved=saved)
    except (OSError, ValueError) as exc:
        raise _fail(f"cannot listen on {host}:{port}: {exc}") from None
    typer.echo(f"SMTP sink on {host}:{bound}, saving every message in {directory} (Ctrl-C stops)")
    # SIGTERM as well as Ctrl-C: a sink started in the background by a script ignores SIGINT.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
    typer.echo("stopped")


@app.command()
def outbox(
    status: str | None = typer.Option(
        None, help=f"Only messages with this status: {', '.join(STATUSES)}."
    ),
    limit: int = typer.Option(50, min=1, help="At most this many, newest first."),
) -> None:
    """List the e-mails in the outbox and what became of each."""
    from flows.mail import Outbox, Status

    if status is not None and status not in STATUSES:
        raise _fail(f"--status {status!r}: write one of {', '.join(STATUSES)}", code=2)
    settings = _settings()
    if not settings.outbox.exists():
        typer.echo(f"no outbox at {settings.outbox} yet: nothing was queued (KASSA_MAIL_OUTBOX)")
        return
    try:
        entries = Outbox(settings.outbox).list(
            status=Status(status) if status else None, limit=limit
        )
    except sqlite3.Error as exc:
        raise _fail(f"cannot read the outbox {settings.outbox}: {exc}") from None
    if not entries:
        typer.echo(f"the outbox {settings.outbox} has no such messages")
        return
    for entry in entries:
        typer.echo(_describe(entry))


def _describe(entry: OutboxEntry) -> str:
    from flows.mail import Status

    line = f"{entry.status:<18} {entry.attempts:>3}  {entry.key}  «{entry.subject}»"
    if entry.status is Status.sent and entry.sent_at is not None:
        return f"{line}\n{'':24}sent {entry.sent_at:%Y-%m-%d %H:%M:%S} UTC"
    if entry.status is Status.pending:
        when = f"next attempt {entry.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC"
        return f"{line}\n{'':24}{when}" + (f": {entry.last_error}" if entry.last_error else "")
    if entry.last_error:
        return f"{line}\n{'':24}{entry.last_error}"
    return line


@app.command()
def send() -> None:
    """Send every e-mail that is due now; exit 1 when some could not be sent.

    Deferred ones are tried again later; permanently failed ones stay listed.
    """
    from flows.mail import Outbox

    settings = _settings()
    if not settings.outbox.exists():
        typer.echo(f"nothing to send: no outbox at {settings.outbox} (KASSA_MAIL_OUTBOX)")
        return
    try:
        report = Outbox(settings.outbox).deliver(settings)
    except sqlite3.Error as exc:
        raise _fail(f"cannot use the outbox {settings.outbox}: {exc}") from None
    for key in report.sent:
        typer.echo(f"sent      {key}")
    for key, error in report.deferred.items():
        typer.echo(f"deferred  {key}: {error}")
    for key, error in report.failed.items():
        typer.echo(f"FAILED    {key}: {error}")
    typer.echo(report.summary() if report.sent or not report.all_sent else "nothing was due")
    if not report.all_sent:
        raise typer.Exit(code=1)
