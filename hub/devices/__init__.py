"""Tills: one-time pairing codes, device tokens bound to a store, revocation, last contact."""
