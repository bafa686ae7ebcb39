"""The till agent's settings file, till.toml, and the hardware it describes.

`load_config(path)` reads and validates the file; any problem is a `ConfigError` whose message
names the file, the setting and what to do, e.g.
`till.toml: printer.port: must be between 1 and 65535 (got 70000)`. Every setting has a default,
so an almost empty file works. till_agent/till.example.toml documents every setting.

`make_printer`, `make_scanner` and `make_fiscal` build the devices a config describes;
`TillConfig.layout()` is the receipt layout for `receipt.ReceiptRenderer`.
"""

from __future__ import annotations

import difflib
import json
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from till_agent.fiscal import FISCAL_KINDS, FiscalDevice, fiscal_device
from till_agent.printer import (
    PrinterTransport,
    SerialTransport,
    TransportSettings,
    UsbTransport,
    make_transport,
)
from till_agent.receipt import ENCODING, PrinterLayout, get_profile
from till_agent.scanner import FrameSplitter, ScannerStatus, SerialScanner

DEFAULT_FILE_NAME = "till.toml"
PAPER_WIDTHS = (32, 42, 48)
BAUDRATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)


class ConfigError(ValueError):
    """till.toml is missing, not TOML, or has a wrong setting; `problems` holds one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class _FieldProblem(ValueError):
    """Raised inside a section validator to blame one field of that section."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def _show(value: object) -> str:
    """A value as it is written in TOML: "text" in double quotes, true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return str(value)


def _between(low: float, high: float) -> AfterValidator:
    def check(value: float) -> float:
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high} (got {_show(value)})")
        return value

    return AfterValidator(check)


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError(f"must be more than 0 (got {_show(value)})")
    return value


def _hex_or_int(what: str, example: str) -> Callable[[Any], Any]:
    """USB ids and endpoints: TOML integers (0x04b8 is one) or text such as "0x04b8", "04b8"."""

    def parse(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip().lower().removeprefix("0x")
        try:
            return int(text, 16)
        except ValueError:
            raise ValueError(
                f'must be a hexadecimal {what} such as {example} or "{example}" '
                f"(got {_show(value)})"
            ) from None

    return parse


Seconds = Annotated[float, AfterValidator(_positive)]
UsbId = Annotated[
    int, BeforeValidator(_hex_or_int("USB id (lsusb shows it)", "0x04b8")), _between(1, 0xFFFF)
]
UsbEndpoint = Annotated[
    int, BeforeValidator(_hex_or_int("USB endpoint address", "0x82")), _between(1, 0xFF)
]
LoosePath = Annotated[Path, Field(strict=False)]


def _resolve(path: Path, info: ValidationInfo) -> Path:
    """Relative paths are relative to the directory of the toml file."""
    path = path.expanduser()
    base = (info.context or {}).get("base_dir")
    if path.is_absolute() or base is None:
        return path
    return Path(os.path.normpath(Path(base) / path))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class TillSection(_Section):
    data_dir: LoosePath = Field(default=Path("var/till"), validate_default=True)
    locale: Literal["ru", "en"] = "ru"
    name: str = ""  # "" = the name the hub gave the till at pairing

    @field_validator("data_dir")
    @classmethod
    def _data_dir(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolve(value, info)


class HubSection(_Section):
    url: str = ""  # "" = use the URL stored at pairing
    timeout_s: Seconds = 5.0
    sync_interval_s: Seconds = 5.0
    catalog_interval_s: Seconds = 60.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(
                f'must start with http:// or https://, or be "" to use the paired hub '
                f"(got {_show(value)})"
            )
        return value.rstrip("/")


PrinterKind = Literal["network", "usb", "serial", "file", "dummy"]


class PrinterSection(_Section):
    kind: PrinterKind = "dummy"
    host: str = ""
    port: Annotated[int, _between(1, 65535)] = 9100
    timeout_s: Seconds = 3.0
    usb_vendor_id: UsbId | None = None
    usb_product_id: UsbId | None = None
    usb_interface: Annotated[int, _between(0, 255)] = 0
    usb_in_ep: UsbEndpoint = 0x82
    usb_out_ep: UsbEndpoint = 0x01
    device: str = ""
    baudrate: int = 19200
    path: LoosePath | None = None
    profile: str = "TM-T88V"
    code_page: Annotated[int, _between(0, 255)] | None = None
    width: int = 42
    qr_size: Annotated[int, _between(1, 16)] = 5

    @field_validator("path")
    @classmethod
    def _path(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _resolve(value, info)

    @field_validator("baudrate")
    @classmethod
    def _baudrate(cls, value: int) -> int:
        return _check_baudrate(value)

    @field_validator("width")
    @classmethod
    def _width(cls, value: int) -> int:
        if value not in PAPER_WIDTHS:
            raise ValueError(
                f"must be 32 (58 mm paper), 42 or 48 (80 mm paper) characters per line "
                f"(got {_show(value)})"
            )
        return value

    @field_validator("profile")
    @classmethod
    def _profile(cls, value: str) -> str:
        try:
            get_profile(value)
        except KeyError:
            known = ", ".join(sorted(_profile_names()))
            hint = difflib.get_close_matches(value, _profile_names(), n=1)
            guess = f'did you mean "{hint[0]}"? ' if hint else ""
            raise ValueError(
                f"unknown printer profile {_show(value)}: {guess}known profiles: {known}"
            ) from None
        return value

    @model_validator(mode="after")
    def _kind_needs(self) -> PrinterSection:
        needs = {
            "network": [("host", "the printer's IP address or name, e.g. 192.168.1.50")],
            "usb": [
                ("usb_vendor_id", "the vendor id from lsusb, e.g. 0x04b8"),
                ("usb_product_id", "the product id from lsusb, e.g. 0x0202"),
            ],
            "serial": [("device", "the serial port, e.g. /dev/ttyUSB0")],
            "file": [("path", "the device or file to write to, e.g. /dev/usb/lp0")],
        }
        for name, what in needs.get(self.kind, []):
            if getattr(self, name) in (None, ""):
                raise _FieldProblem(name, f'printer kind "{self.kind}" needs {name}: {what}')
        if self.code_page is None and ENCODING not in get_profile(self.profile).get_code_pages():
            raise _FieldProblem(
                "code_page",
                f'profile "{self.profile}" has no number for {ENCODING}: set code_page '
                "(17 on Epson, 59 on many 58 mm printers; see the printer's self-test page)",
            )
        return self


def _profile_names() -> list[str]:
    from escpos.capabilities import CAPABILITIES  # type: ignore[import-untyped]

    return list(CAPABILITIES["profiles"])


def _check_baudrate(value: int) -> int:
    if value not in BAUDRATES:
        rates = ", ".join(map(str, BAUDRATES))
        raise ValueError(f"must be one of {rates} (got {_show(value)})")
    return value


Suffix = Literal["auto", "cr", "lf", "crlf", "tab", "none"]


class ScannerSection(_Section):
    kind: Literal["serial", "keyboard"] = "keyboard"
    port: str = ""  # a device path or a pyserial URL (socket://host:port, loop://)
    baudrate: int = 9600
    prefix: str = ""
    suffix: Suffix = "auto"
    idle_ms: Annotated[int, _between(0, 1000)] = 50

    @field_validator("baudrate")
    @classmethod
    def _baudrate(cls, value: int) -> int:
        return _check_baudrate(value)

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(
                f"must be Latin letters, digits or symbols, as the scanner sends them "
                f"(got {_show(value)})"
            ) from None
        if len(value) > 16:
            raise ValueError(f"must be at most 16 characters (got {_show(value)})")
        return value

    @model_validator(mode="after")
    def _kind_needs(self) -> ScannerSection:
        if self.kind == "serial" and not self.port:
            raise _FieldProblem(
                "port", 'scanner kind "serial" needs port: e.g. /dev/ttyACM0 or /dev/ttyUSB0'
            )
        if self.suffix == "none" and self.idle_ms == 0:
            raise _FieldProblem(
                "idle_ms",
                'suffix "none" needs idle_ms above 0: a code ends after that many ms of silence',
            )
        return self

    def frame_splitter(self) -> FrameSplitter:
        """The framing for `SerialScanner`.

        FrameSplitter always ends a frame at CR, LF and CRLF; `suffix` only decides whether Tab
        ends one too ("tab"). "cr", "lf", "crlf" and "none" therefore frame like "auto"; with
        "none" codes end after `idle_ms` of silence. `idle_ms = 0` turns that flush off.
        """
        return FrameSplitter(
            prefix=self.prefix.encode("latin-1"),
            tab_ends_frame=self.suffix == "tab",
            idle_flush_s=self.idle_ms / 1000 if self.idle_ms else None,
        )


def _drawer_ms(value: int) -> int:
    if not 2 <= value <= 510 or value % 2:
        raise ValueError(f"must be an even number of ms between 2 and 510 (got {_show(value)})")
    return value


DrawerMs = Annotated[int, AfterValidator(_drawer_ms)]


class DrawerSection(_Section):
    pin: Literal[2, 5] = 2
    pulse_ms: DrawerMs = 100
    off_ms: DrawerMs = 200
    sensor_open_high: bool = True  # DLE EOT 1 bit 2 set means "open"


class FiscalSection(_Section):
    kind: str = "none"

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in FISCAL_KINDS:
            fiscal_device(value)  # raises UnknownFiscalKind, naming the kind
        return value


class TillConfig(_Section):
    till: TillSection = Field(default_factory=TillSection)
    hub: HubSection = Field(default_factory=HubSection)
    printer: PrinterSection = Field(default_factory=PrinterSection)
    scanner: ScannerSection = Field(default_factory=ScannerSection)
    drawer: DrawerSection = Field(default_factory=DrawerSection)
    fiscal: FiscalSection = Field(default_factory=FiscalSection)

    def layout(self) -> PrinterLayout:
        p, d = self.printer, self.drawer
        return PrinterLayout(
            profile=p.profile,
            code_page=p.code_page,
            width=p.width,
            locale=self.till.locale,
            drawer_pin=d.pin,
            drawer_pulse_ms=d.pulse_ms,
            drawer_off_ms=d.off_ms,
            qr_size=p.qr_size,
        )


# --- loading ------------------------------------------------------------------------------------


def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = TillConfig
    for part in loc:
        if model is None:
            return None
        annotation = (
            model.model_fields[str(part)].annotation if part in model.model_fields else None
        )
        model = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel)
            else None
        )
    return model


def _problem(error: Mapping[str, Any]) -> tuple[str, str]:
    """(dotted field, what is wrong and what to do) for one pydantic error."""
    loc = tuple(str(part) for part in error["loc"])
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    got = f"(got {_show(value)})"
    if kind == "value_error":
        exc = ctx.get("error")
        if isinstance(exc, _FieldProblem):
            loc = (*loc, exc.field)
        return ".".join(loc), str(exc)
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        known = list(parent.model_fields) if parent is not None else []
        hint = difflib.get_close_matches(loc[-1], known, n=1)
        guess = f'did you mean "{hint[0]}"? ' if hint else ""
        if len(loc) == 1:
            return f"[{loc[0]}]", f"unknown section: {guess}known sections: {', '.join(known)}"
        return ".".join(loc), f"unknown setting: {guess}known settings: {', '.join(known)}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return ".".join(
            loc
        ), f"must be a section: write [{'.'.join(loc)}] and its settings below it"
    if kind == "literal_error":
        expected = str(ctx.get("expected", "one of the listed values")).replace("'", '"')
        return ".".join(loc), f"must be {expected} {got}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return ".".join(loc), f"must be a whole number without quotes {got}"
    if kind in ("float_type", "float_parsing"):
        return ".".join(loc), f"must be a number without quotes {got}"
    if kind in ("bool_type", "bool_parsing"):
        return ".".join(loc), f"must be true or false, without quotes {got}"
    if kind in ("string_type", "path_type"):
        return ".".join(loc), f'must be text in double quotes, e.g. "..." {got}'
    return ".".join(loc), f"{error['msg']} {got}"


def validate_config(
    data: Mapping[str, Any], *, source: str = DEFAULT_FILE_NAME, base_dir: Path | None = None
) -> TillConfig:
    """Validate parsed TOML; relative paths resolve against `base_dir` (default: the cwd)."""
    base = base_dir if base_dir is not None else Path.cwd()
    # Missing sections are validated from {} so that their defaults see `base_dir` too.
    full = {name: {} for name in TillConfig.model_fields} | dict(data)
    try:
        return TillConfig.model_validate(full, context={"base_dir": base})
    except ValidationError as exc:
        problems: list[str] = []
        for error in exc.errors(include_url=False):
            field, message = _problem(error)
            line = f"{source}: {field}: {message}" if field else f"{source}: {message}"
            if line not in problems:
                problems.append(line)
        raise ConfigError(problems) from None


def load_config(path: Path) -> TillConfig:
    """Read and validate till.toml; every problem is a `ConfigError`, never a traceback."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            [f"{path}: no such file: copy till_agent/till.example.toml there and edit it"]
        ) from None
    except IsADirectoryError:
        raise ConfigError([f"{path}: is a directory, not a settings file"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot be read: {exc.strerror or exc}"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [f"{path}: not UTF-8 text (byte {exc.start}): save the file as UTF-8"]
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            [
                f"{path}: not valid TOML: {exc}; text values need double quotes, "
                "sections are written [printer]"
            ]
        ) from None
    return validate_config(data, source=str(path), base_dir=path.absolute().parent)


def default_config(base_dir: Path | None = None) -> TillConfig:
    """All defaults (dummy printer, keyboard scanner); data_dir resolves against `base_dir`."""
    return validate_config({}, base_dir=base_dir)


# --- devices ------------------------------------------------------------------------------------


def make_printer(config: TillConfig) -> PrinterTransport:
    """The transport for `[printer] kind`; nothing is opened until the first job or status."""
    p, open_high = config.printer, config.drawer.sensor_open_high
    if p.kind == "usb":
        if p.usb_vendor_id is None or p.usb_product_id is None:  # load_config refuses this
            raise ValueError("printer kind usb needs usb_vendor_id and usb_product_id")
        return UsbTransport(
            vendor_id=p.usb_vendor_id,
            product_id=p.usb_product_id,
            interface=p.usb_interface,
            in_ep=p.usb_in_ep,
            out_ep=p.usb_out_ep,
            timeout=p.timeout_s,
            status_timeout=min(1.0, p.timeout_s),
            drawer_open_high=open_high,
        )
    if p.kind == "serial":
        return SerialTransport(
            device=p.device,
            baudrate=p.baudrate,
            timeout=p.timeout_s,
            status_timeout=min(1.0, p.timeout_s),
            drawer_open_high=open_high,
        )
    if p.kind not in ("network", "file", "dummy"):
        raise ValueError(f"unknown printer kind {p.kind!r}")
    return make_transport(
        TransportSettings(
            kind=p.kind,
            host=p.host,
            port=p.port,
            timeout=p.timeout_s,
            path=str(p.path or ""),
            drawer_open_high=open_high,
        )
    )


def make_scanner(
    config: TillConfig,
    *,
    on_code: Callable[[str], None] | None = None,
    on_status: Callable[[ScannerStatus], None] | None = None,
) -> SerialScanner | None:
    """A (not yet started) `SerialScanner` for `[scanner] kind = "serial"`; None for "keyboard"
    (a keyboard-wedge scanner types into the UI, which tells it apart by timing)."""
    s = config.scanner
    if s.kind != "serial":
        return None
    return SerialScanner(
        s.port,
        baudrate=s.baudrate,
        splitter=s.frame_splitter(),
        on_code=on_code,
        on_status=on_status,
    )


def make_fiscal(config: TillConfig) -> FiscalDevice:
    return fiscal_device(config.fiscal.kind)
