"""Annotated string types for hub request bodies: no NUL bytes, no lone surrogates.

PostgreSQL refuses NUL in text (a 500 if it got that far) and lone surrogates cannot be encoded
as UTF-8; both are refused at the edge with 422 naming the field.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

_BAD = re.compile("[\x00\ud800-\udfff]")


def _clean(value: str) -> str:
    if _BAD.search(value):
        raise ValueError("must not contain NUL bytes or unpaired surrogates")
    return value


Name = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_clean)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_clean)]
LongText = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_clean)]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_clean)]
Email = Annotated[
    str,
    StringConstraints(
        min_length=3,
        max_length=254,
        strip_whitespace=True,
        to_lower=True,
        pattern=r"^[^@\s]+@[^@\s]+$",
    ),
    AfterValidator(_clean),
]
