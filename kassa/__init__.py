"""Composition root: the one `kassa` CLI and the demo."""
