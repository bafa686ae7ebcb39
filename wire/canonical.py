"""Canonical JSON bytes and the journal hash chain that links a till's sales."""

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

GENESIS_HASH = "0" * 64

_HASH_RE = re.compile(r"[0-9a-f]{64}")


def _check_plain(value: Any, path: str) -> None:
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, float):
        raise TypeError(
            f"{path}: floats are not allowed in canonical JSON (money is never a float)"
        )
    if isinstance(value, int):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: object keys must be str, got {type(key).__name__}")
            _check_plain(item, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_plain(item, f"{path}.{index}")
        return
    raise TypeError(f"{path}: {type(value).__name__} is not plain JSON data")


def canonical_json(obj: Any) -> bytes:
    """UTF-8 JSON with sorted keys at every level, no whitespace and non-ASCII kept verbatim.

    Only dict (str keys), list/tuple, str, int, bool and None are accepted; anything else,
    floats included, raises TypeError.
    """
    _check_plain(obj, "$")
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def journal_hash(prev_hash: str, payload: Mapping[str, Any]) -> str:
    """Link one journal entry to the previous one.

    Returns the lowercase hex SHA-256 of ``prev_hash.encode("ascii") + canonical_json(p)``, where
    ``p`` is ``payload`` as a dict without its top-level ``"hash"`` key (if present). The first
    entry of a chain uses ``GENESIS_HASH`` as ``prev_hash``.
    """
    if not isinstance(prev_hash, str) or _HASH_RE.fullmatch(prev_hash) is None:
        raise ValueError("prev_hash must be 64 lowercase hex characters")
    body = {key: value for key, value in payload.items() if key != "hash"}
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(body)).hexdigest()
