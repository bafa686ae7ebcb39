"""The deployments and `serve`: warehouse-refresh every `refresh_minutes`, daily-close at
`daily_close_cron` and mail-outbox every 5 minutes, in the chain's time zone, one run of each at
a time."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from prefect import serve
from prefect.schedules import Cron, Interval
from prefect.types.entrypoint import EntrypointType

from flows.flows import daily_close, ensure_writer_limit, mail_outbox, warehouse_refresh
from flows.settings import FlowSettings
from flows.tasks import WRITER_TAG


class NoPrefectServerError(RuntimeError):
    """Schedules need a Prefect server: a temporary one cannot schedule runs."""


def deployments(settings: FlowSettings) -> list[Any]:
    """The deployments with explicit time zones and at most one run of each at a time."""
    zone = settings.chain_timezone
    # Anchored on midnight in the chain's zone, so runs fall on :00, :15, :30 and :45 there.
    midnight = dt.datetime.combine(dt.date(2026, 1, 1), dt.time(), tzinfo=ZoneInfo(zone))
    refresh = warehouse_refresh.to_deployment(
        name=f"every-{settings.refresh_minutes}-minutes",
        schedule=Interval(
            dt.timedelta(minutes=settings.refresh_minutes), anchor_date=midnight, timezone=zone
        ),
        concurrency_limit=1,
        tags=["kassa", WRITER_TAG],
        entrypoint_type=EntrypointType.MODULE_PATH,
        description="Extract the hub into the warehouse; rebuild dimensions and facts.",
    )
    close = daily_close.to_deployment(
        name="daily",
        schedule=Cron(settings.daily_close_cron, timezone=zone),
        concurrency_limit=1,
        tags=["kassa", WRITER_TAG],
        entrypoint_type=EntrypointType.MODULE_PATH,
        description=(
            "Rebuild the marts for yesterday (in the chain's time zone), run the quality gate, "
            "publish the owner reports and e-mail them (or withhold them and e-mail operations), "
            "and turn reorder suggestions into draft purchase orders."
        ),
    )
    mail = mail_outbox.to_deployment(
        name="every-5-minutes",
        schedule=Interval(dt.timedelta(minutes=5), anchor_date=midnight, timezone=zone),
        concurrency_limit=1,
        tags=["kassa"],
        entrypoint_type=EntrypointType.MODULE_PATH,
        description="Send e-mails still waiting in the outbox (SMTP was down when they were made).",
    )
    return [refresh, close, mail]


def serve_deployments(settings: FlowSettings, api_url: str | None, prefect_home: str) -> None:
    """Serve both deployments until interrupted; at most one flow run at a time in this process."""
    if not api_url:
        raise NoPrefectServerError(
            "kassa flows serve needs a Prefect server to schedule runs (a temporary one does "
            f"not run the scheduler): start one with `PREFECT_HOME={prefect_home} prefect "
            "server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    ensure_writer_limit()
    serve(*deployments(settings), limit=1)
