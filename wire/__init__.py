"""The hub<->till contract: money, ids, canonical JSON and the frozen v1 schemas. No I/O."""
