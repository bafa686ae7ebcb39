"""Append-only audit log of every write: who, what, when, before and after."""
