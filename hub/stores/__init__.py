"""Stores: name, address, time zone, currency, receipt texts and language."""
