"""Hardware simulators shipped with the till agent: real protocol peers for tests and the demo."""

from till_agent.sim.printer_server import (
    DrawerPulse,
    EscPosDecoder,
    PrinterSim,
    PrinterState,
    PrintJob,
    printer_server,
)

__all__ = [
    "DrawerPulse",
    "EscPosDecoder",
    "PrintJob",
    "PrinterSim",
    "PrinterState",
    "printer_server",
]
