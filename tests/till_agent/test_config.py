"""till.toml: defaults, error messages naming the field, the example file, and the devices built
from a config (the network printer against the decoding printer simulator)."""

import atexit
import os
import shutil
import tempfile

# python-escpos pickles its capabilities on import: a disposable directory per test process.
_PICKLE_DIR = tempfile.mkdtemp(prefix="kassa-test-escpos-")
atexit.register(shutil.rmtree, _PICKLE_DIR, True)
os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", _PICKLE_DIR)

import dataclasses  # noqa: E402
import datetime as dt  # noqa: E402
import re  # noqa: E402
import tomllib  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from kassa.till_sim import Item, SimTill  # noqa: E402
from till_agent.config import (  # noqa: E402
    ConfigError,
    TillConfig,
    default_config,
    load_config,
    make_fiscal,
    make_printer,
    make_scanner,
    validate_config,
)
from till_agent.fiscal import FiscalAttrs, NoFiscal, fiscal_device  # noqa: E402
from till_agent.printer import (  # noqa: E402
    DummyTransport,
    FileTransport,
    NetworkTransport,
    PaperState,
    PrinterStatus,
    SerialTransport,
    UsbTransport,
)
from till_agent.receipt import PrinterLayout, ReceiptRenderer, StoreHeader  # noqa: E402
from till_agent.scanner import ScannerState  # noqa: E402
from till_agent.sim import printer_server  # noqa: E402
from till_agent.sim.scanner import VirtualSerialScanner  # noqa: E402
from wire.v1.sales import SaleV1  # noqa: E402

EXAMPLE = Path(__file__).parents[2] / "till_agent" / "till.example.toml"
AT = dt.datetime(2025, 3, 14, 9, 5, tzinfo=dt.UTC)
STORE = StoreHeader(name="Магазин «Ромашка»", footer_text="Спасибо за покупку!")
MILK = Item(1, "Молоко 3,2% 1 л", 2000, 8990, 1000)


def write(tmp_path: Path, text: str, name: str = "till.toml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str) -> TillConfig:
    return load_config(write(tmp_path, text))


def config_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, text)
    return str(caught.value)


# --- defaults and paths -------------------------------------------------------------------------


def test_an_empty_file_gives_every_default(tmp_path: Path) -> None:
    config = load_text(tmp_path, "")

    assert config == default_config(tmp_path)
    assert config.till.data_dir == tmp_path / "var" / "till"
    assert (config.till.locale, config.till.name) == ("ru", "")
    assert (config.hub.url, config.hub.timeout_s) == ("", 5.0)
    assert (config.hub.sync_interval_s, config.hub.catalog_interval_s) == (5.0, 60.0)
    p = config.printer
    assert (p.kind, p.port, p.timeout_s, p.baudrate) == ("dummy", 9100, 3.0, 19200)
    assert (p.usb_interface, p.usb_in_ep, p.usb_out_ep) == (0, 0x82, 0x01)
    assert (p.profile, p.code_page, p.width, p.qr_size) == ("TM-T88V", None, 42, 5)
    s = config.scanner
    assert (s.kind, s.baudrate, s.prefix, s.suffix, s.idle_ms) == ("keyboard", 9600, "", "auto", 50)
    d = config.drawer
    assert (d.pin, d.pulse_ms, d.off_ms, d.sensor_open_high) == (2, 100, 200, True)
    assert config.fiscal.kind == "none"


def test_default_config_resolves_data_dir_against_the_given_folder(tmp_path: Path) -> None:
    assert default_config(tmp_path / "x").till.data_dir == tmp_path / "x" / "var" / "till"


def test_relative_paths_resolve_against_the_toml_folder_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(
        tmp_path,
        '[till]\ndata_dir = "../data"\n[printer]\nkind = "file"\npath = "log/receipts.bin"\n',
        name="etc/till.toml",
    )

    config = load_config(Path("etc/till.toml"))

    assert path.exists()
    assert config.till.data_dir == tmp_path / "data"
    assert config.printer.path == tmp_path / "etc" / "log" / "receipts.bin"


def test_an_absolute_data_dir_is_kept(tmp_path: Path) -> None:
    config = load_text(tmp_path, f'[till]\ndata_dir = "{tmp_path / "abs"}"\n')

    assert config.till.data_dir == tmp_path / "abs"


def test_an_almost_empty_file_with_a_network_printer_loads(tmp_path: Path) -> None:
    config = load_text(tmp_path, '[printer]\nkind = "network"\nhost = "192.168.1.50"\n')

    assert (config.printer.kind, config.printer.host, config.printer.port) == (
        "network",
        "192.168.1.50",
        9100,
    )


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[printer]\nport = 70000\n", "printer.port: must be between 1 and 65535 (got 70000)"),
        ("[printer]\nport = 0\n", "printer.port: must be between 1 and 65535 (got 0)"),
        ('[printer]\nport = "9100"\n', 'printer.port: must be a whole number without quotes (got "9100")'),
        ('[printer]\nkind = "bluetooth"\n', 'printer.kind: must be "network", "usb", "serial", "file" or "dummy" (got "bluetooth")'),
        ("[printer]\nwidth = 40\n", "printer.width: must be 32 (58 mm paper), 42 or 48 (80 mm paper) characters per line (got 40)"),
        ('[printer]\nkind = "network"\n', 'printer.host: printer kind "network" needs host'),
        ('[printer]\nkind = "usb"\nusb_vendor_id = 0x04b8\n', 'printer.usb_product_id: printer kind "usb" needs usb_product_id'),
        ('[printer]\nkind = "usb"\nusb_product_id = 0x0202\n', 'printer.usb_vendor_id: printer kind "usb" needs usb_vendor_id'),
        ('[printer]\nkind = "serial"\n', 'printer.device: printer kind "serial" needs device'),
        ('[printer]\nkind = "file"\n', 'printer.path: printer kind "file" needs path'),
        ('[printer]\nusb_vendor_id = "0xZZ"\n', 'printer.usb_vendor_id: must be a hexadecimal USB id'),
        ("[printer]\nusb_vendor_id = 0x10000\n", "printer.usb_vendor_id: must be between 1 and 65535 (got 65536)"),
        ('[printer]\nusb_in_ep = "zz"\n', "printer.usb_in_ep: must be a hexadecimal USB endpoint address"),
        ("[printer]\ncode_page = 256\n", "printer.code_page: must be between 0 and 255 (got 256)"),
        ('[printer]\nprofile = "simple"\n', 'printer.code_page: profile "simple" has no number for CP866: set code_page'),
        ('[printer]\nprofile = "TM-T20"\n', 'printer.profile: unknown printer profile "TM-T20": did you mean "TM-T20II"?'),
        ("[printer]\nqr_size = 17\n", "printer.qr_size: must be between 1 and 16 (got 17)"),
        ("[printer]\nbaudrate = 9601\n", "printer.baudrate: must be one of 1200, 2400, 4800, 9600, 19200"),
        ("[printer]\ntimeout_s = 0\n", "printer.timeout_s: must be more than 0 (got 0.0)"),
        ('[till]\nlocale = "de"\n', 'till.locale: must be "ru" or "en" (got "de")'),
        ("[till]\ndata_dir = 5\n", 'till.data_dir: must be text in double quotes, e.g. "..." (got 5)'),
        ('[hub]\nurl = "hub.local"\n', "hub.url: must start with http:// or https://"),
        ('[hub]\ntimeout_s = "5"\n', 'hub.timeout_s: must be a number without quotes (got "5")'),
        ('[scanner]\nkind = "serial"\n', 'scanner.port: scanner kind "serial" needs port'),
        ('[scanner]\nsuffix = "etx"\n', 'scanner.suffix: must be "auto", "cr", "lf", "crlf", "tab" or "none" (got "etx")'),
        ('[scanner]\nsuffix = "none"\nidle_ms = 0\n', 'scanner.idle_ms: suffix "none" needs idle_ms above 0'),
        ('[scanner]\nprefix = "№"\n', 'scanner.prefix: must be Latin letters, digits or symbols'),
        ("[drawer]\npin = 3\n", "drawer.pin: must be 2 or 5 (got 3)"),
        ("[drawer]\npulse_ms = 101\n", "drawer.pulse_ms: must be an even number of ms between 2 and 510 (got 101)"),
        ("[drawer]\noff_ms = 512\n", "drawer.off_ms: must be an even number of ms between 2 and 510 (got 512)"),
        ("[drawer]\nsensor_open_high = 1\n", "drawer.sensor_open_high: must be true or false, without quotes (got 1)"),
        ('[fiscal]\nkind = "atol"\n', 'fiscal.kind: unknown fiscal registrar kind "atol"'),
        ("printer = 5\n", "printer: must be a section: write [printer] and its settings below it"),
    ],
)  # fmt: skip
def test_a_bad_setting_is_a_config_error_naming_file_field_and_remedy(
    tmp_path: Path, text: str, expected: str
) -> None:
    message = config_error(tmp_path, text)

    assert f"{tmp_path / 'till.toml'}: {expected}" in message
    assert len(message.splitlines()) == 1
    assert "Traceback" not in message and "pydantic" not in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    message = config_error(tmp_path, "[printer]\nport = 70000\nwidth = 40\n[drawer]\npin = 3\n")

    fields = [line.split(": ")[1] for line in message.splitlines()]
    assert fields == ["printer.port", "printer.width", "drawer.pin"]


def test_a_misspelled_setting_is_rejected_with_a_suggestion(tmp_path: Path) -> None:
    message = config_error(tmp_path, '[printer]\nkind = "network"\nhots = "192.168.1.50"\n')

    assert 'printer.hots: unknown setting: did you mean "host"?' in message


def test_an_unknown_section_is_rejected(tmp_path: Path) -> None:
    message = config_error(tmp_path, "[printr]\nport = 9100\n")

    assert '[printr]: unknown section: did you mean "printer"?' in message


def test_a_toml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    message = config_error(tmp_path, '[printer]\nkind = "network"\nhost = 192.168.1.50\n')

    assert message.startswith(f"{tmp_path / 'till.toml'}: not valid TOML:")
    assert "line 3" in message
    assert "double quotes" in message


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"till\.toml: no such file: copy .*till\.example\.toml"):
        load_config(tmp_path / "till.toml")


def test_a_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "till.toml"
    path.write_bytes('[till]\nname = "Касса"\n'.encode("cp1251"))

    with pytest.raises(ConfigError, match=r"not UTF-8 text .*save the file as UTF-8"):
        load_config(path)


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


def test_validate_config_names_the_given_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_config({"printer": {"port": 70000}}, source="/etc/kassa/till.toml")

    assert caught.value.problems == [
        "/etc/kassa/till.toml: printer.port: must be between 1 and 65535 (got 70000)"
    ]
    config = validate_config({"till": {"data_dir": "d"}}, base_dir=tmp_path)
    assert config.till.data_dir == tmp_path / "d"


@pytest.mark.parametrize(
    ("written", "expected"),
    [("0x04b8", 0x04B8), ('"0x04b8"', 0x04B8), ('"04B8"', 0x04B8), ("1208", 1208)],
)
def test_usb_ids_accept_toml_hex_numbers_and_hex_text(
    tmp_path: Path, written: str, expected: int
) -> None:
    config = load_text(
        tmp_path,
        f'[printer]\nkind = "usb"\nusb_vendor_id = {written}\nusb_product_id = "0x0202"\n'
        'usb_in_ep = "0x81"\nusb_out_ep = 0x02\n',
    )

    assert config.printer.usb_vendor_id == expected
    assert config.printer.usb_product_id == 0x0202
    assert (config.printer.usb_in_ep, config.printer.usb_out_ep) == (0x81, 0x02)


# --- layout and devices -------------------------------------------------------------------------


def test_layout_maps_printer_drawer_and_locale(tmp_path: Path) -> None:
    config = load_text(
        tmp_path,
        '[till]\nlocale = "en"\n'
        '[printer]\nprofile = "POS-5890"\ncode_page = 17\nwidth = 32\nqr_size = 4\n'
        "[drawer]\npin = 5\npulse_ms = 120\noff_ms = 240\n",
    )

    assert config.layout() == PrinterLayout(
        profile="POS-5890",
        code_page=17,
        width=32,
        locale="en",
        drawer_pin=5,
        drawer_pulse_ms=120,
        drawer_off_ms=240,
        qr_size=4,
    )


def test_the_pos5890_profile_brings_its_own_code_page_number(tmp_path: Path) -> None:
    config = load_text(tmp_path, '[printer]\nprofile = "POS-5890"\nwidth = 32\n')

    assert config.printer.code_page is None
    assert ReceiptRenderer(STORE, config.layout()).code_page == 59


def _sale() -> SaleV1:
    return SimTill(cashier_id=1).sale([MILK], at=AT)


def test_make_printer_network_prints_a_receipt_the_simulator_decodes(tmp_path: Path) -> None:
    with printer_server() as sim:
        config = load_text(
            tmp_path,
            f'[till]\nlocale = "ru"\n'
            f'[printer]\nkind = "network"\nhost = "{sim.host}"\nport = {sim.port}\n'
            'profile = "POS-5890"\nwidth = 32\n'
            "[drawer]\npin = 5\npulse_ms = 60\noff_ms = 120\nsensor_open_high = false\n",
        )
        transport = make_printer(config)
        renderer = ReceiptRenderer(STORE, config.layout(), till_name="Касса 2")

        transport.send(renderer.render(_sale(), cashier_name="Иванова А.", kick_drawer=True))
        (job,) = sim.wait_for_jobs(1)
        status = transport.status()

    assert isinstance(transport, NetworkTransport)
    assert (transport.host, transport.port, transport.timeout) == (sim.host, sim.port, 3.0)
    assert job.code_pages == [59]
    assert job.lines[0] == 'Магазин "Ромашка"'
    assert "1. Молоко 3,2% 1 л" in job.lines
    assert all(len(line) <= 32 for line in job.lines)
    assert [(p.pin, p.on_ms, p.off_ms) for p in job.drawer_pulses] == [(5, 60, 120)]
    # The simulator's drawer is closed (sensor low); with sensor_open_high = false low is open.
    assert status == PrinterStatus(online=True, paper=PaperState.OK, drawer_open=True)


def test_make_printer_file_appends_each_job(tmp_path: Path) -> None:
    config = load_text(tmp_path, '[printer]\nkind = "file"\npath = "receipts.bin"\n')
    transport = make_printer(config)

    transport.send(b"one")
    transport.send(b"two")

    assert isinstance(transport, FileTransport)
    assert (tmp_path / "receipts.bin").read_bytes() == b"onetwo"


def test_make_printer_dummy_keeps_jobs(tmp_path: Path) -> None:
    transport = make_printer(load_text(tmp_path, ""))

    transport.send(b"\x1b@")

    assert isinstance(transport, DummyTransport)
    assert transport.jobs == [b"\x1b@"]


def test_make_printer_serial_and_usb_carry_their_settings(tmp_path: Path) -> None:
    serial_config = load_text(
        tmp_path,
        '[printer]\nkind = "serial"\ndevice = "/dev/ttyUSB0"\nbaudrate = 38400\ntimeout_s = 2\n'
        "[drawer]\nsensor_open_high = false\n",
    )
    usb_config = load_text(
        tmp_path,
        '[printer]\nkind = "usb"\nusb_vendor_id = 0x04b8\nusb_product_id = 0x0202\n'
        "usb_interface = 1\nusb_in_ep = 0x81\nusb_out_ep = 0x02\n",
    )

    assert make_printer(serial_config) == SerialTransport(
        "/dev/ttyUSB0", 38400, timeout=2.0, status_timeout=1.0, drawer_open_high=False
    )
    assert make_printer(usb_config) == UsbTransport(
        0x04B8, 0x0202, interface=1, in_ep=0x81, out_ep=0x02, timeout=3.0, status_timeout=1.0
    )


def test_a_keyboard_scanner_needs_no_serial_reader(tmp_path: Path) -> None:
    assert make_scanner(load_text(tmp_path, "")) is None


@pytest.mark.parametrize(
    ("suffix", "idle_ms", "tab_ends", "idle_s"),
    [
        ("auto", 50, False, 0.05),
        ("cr", 50, False, 0.05),
        ("tab", 50, True, 0.05),
        ("none", 80, False, 0.08),
        ("crlf", 0, False, None),
    ],
)
def test_scanner_settings_map_onto_the_frame_splitter(
    tmp_path: Path, suffix: str, idle_ms: int, tab_ends: bool, idle_s: float | None
) -> None:
    config = load_text(
        tmp_path, f'[scanner]\nprefix = "]C1"\nsuffix = "{suffix}"\nidle_ms = {idle_ms}\n'
    )

    splitter = config.scanner.frame_splitter()

    assert (splitter.prefix, splitter.tab_ends_frame) == (b"]C1", tab_ends)
    assert splitter.idle_flush_s == idle_s


def test_a_serial_scanner_from_the_config_reads_codes_from_a_pty(tmp_path: Path) -> None:
    with VirtualSerialScanner() as device:
        config = load_text(
            tmp_path,
            f'[scanner]\nkind = "serial"\nport = "{device.port_path}"\nbaudrate = 115200\n'
            'prefix = "]E0"\nsuffix = "cr"\n',
        )
        scanner = make_scanner(config)
        assert scanner is not None
        scanner.start()
        try:
            assert scanner.wait_connected(5)
            device.scan("4601234567893", prefix=b"]E0", suffix=b"\r")
            device.scan("noise-without-prefix", suffix=b"\r")
            device.scan("2000000000015", prefix=b"]E0", suffix=b"\r")
            codes = [scanner.codes.get(timeout=5) for _ in range(2)]
        finally:
            scanner.stop()

    assert codes == ["4601234567893", "2000000000015"]
    assert scanner.status.state is ScannerState.STOPPED


# --- fiscal -------------------------------------------------------------------------------------


def test_the_only_fiscal_kind_is_none_and_it_registers_nothing(tmp_path: Path) -> None:
    device = make_fiscal(load_text(tmp_path, '[fiscal]\nkind = "none"\n'))

    assert isinstance(device, NoFiscal)
    assert device.register({"lines": []}) is None
    assert device.status()


def test_an_unknown_fiscal_kind_is_a_value_error_naming_it() -> None:
    with pytest.raises(ValueError, match='"atol"'):
        fiscal_device("atol")


def test_fiscal_attrs_fit_the_nullable_fiscal_fields_of_sale_v1() -> None:
    names = [f.name for f in dataclasses.fields(FiscalAttrs)]
    assert names == ["fn_number", "fd_number", "fpd"]
    sale = _sale()
    assert (sale.fn_number, sale.fd_number, sale.fpd) == (None, None, None)

    attrs = FiscalAttrs(fn_number="9999078900012345", fd_number=42, fpd="1234567890")
    registered = SaleV1.model_validate({**sale.model_dump(), **dataclasses.asdict(attrs)})

    assert (registered.fn_number, registered.fd_number, registered.fpd) == (
        "9999078900012345",
        42,
        "1234567890",
    )


# --- the example file ---------------------------------------------------------------------------


def test_the_example_loads_and_describes_a_lan_tm_t20(tmp_path: Path) -> None:
    config = load_config(EXAMPLE)

    assert config.printer.kind == "network"
    assert config.printer.profile == "TM-T20II"
    assert config.printer.width == 48
    assert config.scanner.kind == "keyboard"
    assert config.fiscal.kind == "none"
    assert config.till.data_dir == EXAMPLE.parent / "var" / "till"


def test_the_example_documents_every_setting() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for section, info in TillConfig.model_fields.items():
        assert f"\n[{section}]\n" in text, section
        model = info.annotation
        assert model is not None
        for name in model.model_fields:
            assert re.search(rf"^(# )?{name} = ", text, re.MULTILINE), f"{section}.{name}"


VARIANT = re.compile(r"^#= variant: (?P<name>\S+).*\n(?P<body>(?:#.*\n)+)", re.MULTILINE)


def _variants() -> dict[str, str]:
    return {m["name"]: m["body"] for m in VARIANT.finditer(EXAMPLE.read_text(encoding="utf-8"))}


def _apply_variant(text: str, body: str) -> str:
    """What the example tells the technician: comment out the live section of the same name,
    then uncomment the variant's lines."""
    section = re.search(r"^# (\[\w+\])$", body, re.MULTILINE)
    assert section is not None
    lines = text.splitlines(keepends=True)
    out, in_live = [], False
    for line in lines:
        if line.startswith("["):
            in_live = line.strip() == section[1]
        out.append(f"# {line}" if in_live and line.strip() and not line.startswith("#") else line)
    variant = "".join(
        line[2:] if line.startswith("# ") else line[1:] for line in body.splitlines(True)
    )
    return "".join(out).replace(body, variant, 1)


def test_the_example_offers_the_documented_variants() -> None:
    assert set(_variants()) == {
        "printer-usb",
        "printer-pos5890",
        "printer-serial",
        "printer-dummy",
        "scanner-serial",
    }


@pytest.mark.parametrize("name", sorted(_variants()))
def test_each_example_variant_loads_when_uncommented(tmp_path: Path, name: str) -> None:
    text = _apply_variant(EXAMPLE.read_text(encoding="utf-8"), _variants()[name])
    tomllib.loads(text)  # still valid TOML: the live section was commented out

    config = load_text(tmp_path, text)

    checks: dict[str, Callable[[TillConfig], bool]] = {
        "printer-usb": lambda c: (
            (c.printer.kind, c.printer.usb_vendor_id, c.printer.usb_product_id)
            == ("usb", 0x04B8, 0x0202)
        ),
        "printer-pos5890": lambda c: (
            (c.printer.kind, c.printer.profile, c.printer.width) == ("file", "POS-5890", 32)
            and ReceiptRenderer(STORE, c.layout()).code_page == 59
        ),
        "printer-serial": lambda c: (
            (c.printer.kind, c.printer.device, c.printer.baudrate)
            == ("serial", "/dev/ttyUSB0", 19200)
        ),
        "printer-dummy": lambda c: c.printer.kind == "dummy",
        "scanner-serial": lambda c: (
            (c.scanner.kind, c.scanner.port, c.scanner.suffix) == ("serial", "/dev/ttyACM0", "cr")
            and c.printer.kind == "network"
        ),
    }
    assert checks[name](config)
    assert config.drawer == load_config(EXAMPLE).drawer  # other sections untouched
