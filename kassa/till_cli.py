"""`kassa till ...`: pair a till, run the cashier UI, show its state, check its hardware.

Only the till's own packages are imported (lazily), so a `pip install .[till]` runs all of it.
Settings come from till.toml: `--config PATH`, else $KASSA_TILL_CONFIG, else ./till.toml when
it exists, else the defaults (dummy printer, keyboard scanner, data in var/till).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from till_agent.config import TillConfig
    from till_agent.runtime import Agent, AgentStatus

app = typer.Typer(
    help="Pair and run a till (cashier UI, sync, printer, scanner).", no_args_is_help=True
)

CONFIG_OPTION = typer.Option(
    None, "--config", "-c", help="till.toml (default: $KASSA_TILL_CONFIG or ./till.toml)."
)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code=code)


def _config(
    path: Path | None, data_dir: Path | None = None, *, require_file: bool = False
) -> TillConfig:
    from till_agent.config import ConfigError, default_config, load_config

    chosen = path or (
        Path(os.environ["KASSA_TILL_CONFIG"]) if os.environ.get("KASSA_TILL_CONFIG") else None
    )
    if chosen is None and Path("till.toml").exists():
        chosen = Path("till.toml")
    if chosen is None and require_file:
        raise _fail(
            "no till.toml here (nor --config, nor $KASSA_TILL_CONFIG): copy "
            "till_agent/till.example.toml to till.toml and set the printer and scanner; for "
            'training without hardware write [printer] kind = "dummy" explicitly'
        )
    try:
        config = load_config(chosen) if chosen is not None else default_config()
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    if data_dir is not None:
        till = config.till.model_copy(update={"data_dir": data_dir.absolute()})
        config = config.model_copy(update={"till": till})
    return config


def _agent(config: TillConfig) -> Agent:
    from till_agent.pairing import PairingError
    from till_agent.runtime import Agent

    try:
        return Agent.from_config(config)
    except PairingError as exc:
        raise _fail(str(exc)) from None


DATA_DIR_OPTION = typer.Option(None, "--data-dir", help="Overrides [till] data_dir.")


@app.command()
def pair(
    hub: str = typer.Option(..., "--hub", help="The hub's address, e.g. http://10.0.0.5:8000."),
    code: str = typer.Option(..., "--code", help="The pairing code from the back office."),
    data_dir: Path | None = DATA_DIR_OPTION,
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Pair this till with its hub (stores the device token, mode 0600) and load the catalog."""
    from till_agent import pairing

    cfg = _config(config, data_dir)
    try:
        paired = pairing.pair(hub, code, cfg.till.data_dir, timeout=cfg.hub.timeout_s)
    except pairing.PairingError as exc:
        raise _fail(str(exc)) from None
    typer.echo(
        f"Paired as {paired.name!r} (device {paired.device_id}, store {paired.store_id}); "
        f"token in {cfg.till.data_dir / pairing.TOKEN_FILE} (0600)."
    )
    with _agent(cfg) as agent:
        agent.refresh_catalog()
        if agent.catalog_error:
            typer.secho(f"Catalog not loaded yet: {agent.catalog_error}", fg=typer.colors.YELLOW)
        else:
            typer.echo(f"Catalog: {agent.catalog.count()} products.")
        outcome = agent.sync_now()  # a re-paired till drains what it kept
        if outcome.sent:
            typer.echo(f"Sent {outcome.sent} journal entries kept while unpaired.")


@app.command()
def run(config: Path | None = CONFIG_OPTION, data_dir: Path | None = DATA_DIR_OPTION) -> None:
    """The cashier UI (Textual). Sales are journaled locally first and synced in the background."""
    cfg = _config(config, data_dir, require_file=True)  # never sell on an imaginary printer
    agent = _agent(cfg)
    scanner = _scanner(cfg)
    try:
        from till_agent.ui.app import run_app

        run_app(agent, scanner=scanner)  # starts and stops the sync and catalog threads
    finally:
        agent.close()


def _scanner(cfg: TillConfig) -> Any:
    if cfg.scanner.kind != "serial":
        return None
    from till_agent.scanner import SerialScanner

    return SerialScanner(
        cfg.scanner.port, baudrate=cfg.scanner.baudrate, splitter=cfg.scanner.frame_splitter()
    )


def _status_dict(status: AgentStatus) -> dict[str, Any]:
    q = status.queue
    printer = status.printer
    return {
        "paired": None
        if status.paired is None
        else {
            "hub": status.paired.hub_url,
            "device_id": status.paired.device_id,
            "store_id": status.paired.store_id,
            "name": status.paired.name,
        },
        "sync_state": status.sync_state,
        "queue": {
            "sales": q.pending_sales,
            "shift_events": q.pending_events,
            "oldest_unsent_at": q.oldest_unsent_at,
        },
        "last_hub_contact": q.last_contact_at,
        "dead_letters": q.dead_letters,
        "unprinted": q.unprinted,
        "printer": None
        if printer is None
        else {
            "online": printer.online,
            "paper": printer.paper.value,
            "drawer_open": printer.drawer_open,
        },
        "catalog_products": status.catalog_products,
    }


@app.command()
def status(
    config: Path | None = CONFIG_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Queue depth, oldest unsent sale, last hub contact, dead letters, printer state."""
    cfg = _config(config, data_dir)
    with _agent(cfg) as agent:
        st = agent.status()
        dead = agent.journal.dead_letters()
    data = _status_dict(st)
    if as_json:
        typer.echo(json.dumps({**data, "dead": [d.__dict__ for d in dead]}, ensure_ascii=False))
        return
    q = st.queue
    rows = [
        (
            "Till",
            f"{st.paired.name} (device {st.paired.device_id}, store {st.paired.store_id})"
            if st.paired
            else "-",
        ),
        ("Hub", st.paired.hub_url if st.paired else "-"),
        ("Sync", st.sync_state),
        ("Queue", f"{q.pending_sales} sales, {q.pending_events} shift events"),
        ("Oldest unsent", q.oldest_unsent_at or "-"),
        ("Last hub contact", q.last_contact_at or "never"),
        ("Dead letters", str(q.dead_letters)),
        ("Unprinted sales", str(q.unprinted)),
        ("Printer", _printer_text(st)),
        ("Catalog", f"{st.catalog_products} products"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        typer.echo(f"{key:<{width}}  {value}")
    for d in dead:
        errors = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in d.errors)
        typer.secho(
            f"  dead {d.stream} #{d.till_seq}: {d.result}: {errors}", fg=typer.colors.YELLOW
        )
    if st.sync_state == "revoked":
        typer.secho(
            "This till's token was revoked: pair it again (kassa till pair); no data is lost.",
            fg=typer.colors.RED,
        )


def _printer_text(status: AgentStatus) -> str:
    p = status.printer
    if p is None:
        return "not asked"
    if not p.online:
        return "OFFLINE" if p.paper.value != "out" else "PAPER OUT"
    parts = [f"online, paper {p.paper.value}"]
    if p.drawer_open is not None:
        parts.append("drawer open" if p.drawer_open else "drawer closed")
    return ", ".join(parts)


@app.command()
def doctor(
    config: Path | None = CONFIG_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    scan_timeout: float = typer.Option(20.0, help="Seconds to wait for the test scan (0: skip)."),
) -> None:
    """Check everything a till needs: journal, hub, printer (test page), drawer, scanner."""
    cfg = _config(config, data_dir)
    results: list[tuple[str, bool, str]] = []
    with _agent(cfg) as agent:
        results.append(_check_journal(agent))
        results.append(_check_hub(agent))
        results += _check_printer(agent, cfg)
        if scan_timeout > 0:
            results.append(_check_scanner(cfg, scan_timeout))
    failed = 0
    for name, ok, detail in results:
        mark = typer.style(
            "OK  " if ok else "FAIL", fg=typer.colors.GREEN if ok else typer.colors.RED
        )
        typer.echo(f"{mark} {name}: {detail}")
        failed += not ok
    if failed:
        raise typer.Exit(code=1)


def _check_journal(agent: Agent) -> tuple[str, bool, str]:
    try:
        agent.journal.put("doctor_checked_at", "now")
        agent.journal.put("doctor_checked_at", None)
    except Exception as exc:
        return (
            "journal",
            False,
            f"cannot write {agent.journal.path}: {exc}; free disk space or fix permissions",
        )
    return ("journal", True, f"{agent.journal.path} is writable")


def _check_hub(agent: Agent) -> tuple[str, bool, str]:
    pages = agent.refresh_catalog()
    if agent.catalog_error:
        return (
            "hub",
            False,
            f"{agent.hub_url}: {agent.catalog_error}; check the network cable and the hub "
            "(selling still works offline)",
        )
    return (
        "hub",
        True,
        f"{agent.hub_url} answers; catalog {agent.catalog.count()} products ({pages} pages new)",
    )


def _check_printer(agent: Agent, cfg: TillConfig) -> list[tuple[str, bool, str]]:
    till = agent.till
    status = till.printer_status()
    rows: list[tuple[str, str] | str] = [
        ("Касса / till", till.till_name or "-"),
        ("Принтер / printer", f"{cfg.printer.kind} {cfg.printer.profile}"),
        ("Кодовая страница / code page", str(cfg.layout().code_page or "profile")),
        "Съешь же ещё этих мягких французских булок, да выпей чаю.",
        "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ абвгдеёжзийклмнопрстуфхцчшщъыьэюя 0123456789",
    ]
    error = till.print_test_page(rows)
    if error is not None:
        return [("printer", False, f"{error.message('en')} ({cfg.printer.kind}); status: {status}")]
    out = [("printer", True, "test page sent: check the Cyrillic lines are readable")]
    kick = till.kick_drawer()
    if kick is not None:
        out.append(("drawer", False, kick.message("en")))
    else:
        after = till.printer_status()
        sensor = ""
        if after.drawer_open is not None:
            state = "open" if after.drawer_open else "closed"
            sensor = f" (sensor says {state}; if wrong, flip drawer.sensor_open_high)"
        out.append(("drawer", True, f"pulse sent on pin {cfg.drawer.pin}{sensor}"))
    return out


def _check_scanner(cfg: TillConfig, timeout: float) -> tuple[str, bool, str]:
    if cfg.scanner.kind == "keyboard":
        if not sys.stdin.isatty():
            return ("scanner", True, "keyboard scanner: not tested (no terminal)")
        typer.echo(f"Scan any barcode now (keyboard scanner, {timeout:.0f} s)...")
        code = _read_line_with_timeout(timeout)
        if not code:
            return (
                "scanner",
                False,
                "nothing scanned: check the scanner's USB cable and that it ends codes with Enter",
            )
        return ("scanner", True, f"read {code!r}")
    from till_agent.scanner import SerialScanner

    got: list[str] = []
    done = threading.Event()

    def on_code(code: str) -> None:
        got.append(code)
        done.set()

    scanner = SerialScanner(
        cfg.scanner.port,
        baudrate=cfg.scanner.baudrate,
        splitter=cfg.scanner.frame_splitter(),
        on_code=on_code,
    )
    with scanner:
        if not scanner.wait_connected(min(timeout, 5.0)):
            return (
                "scanner",
                False,
                f"cannot open {cfg.scanner.port}: {scanner.status.message}; "
                "check the cable and scanner.port",
            )
        typer.echo(
            f"Scan any barcode now (serial scanner on {cfg.scanner.port}, {timeout:.0f} s)..."
        )
        done.wait(timeout)
    if not got:
        return (
            "scanner",
            False,
            f"nothing read on {cfg.scanner.port}: check scanner.baudrate "
            f"({cfg.scanner.baudrate}) and the scanner's suffix",
        )
    return ("scanner", True, f"read {got[0]!r}")


def _read_line_with_timeout(timeout: float) -> str:
    import select

    ready, _, _ = select.select([sys.stdin], [], [], timeout)
    return sys.stdin.readline().strip() if ready else ""
