"""The HTTP Range header, as far as artifacts need it: one byte range (`bytes=0-99`, `bytes=100-`,
`bytes=-500`). Anything else (several ranges, other units, nonsense) is ignored and the whole artifact is
served, as RFC 9110 allows."""

from __future__ import annotations

import re

from storage import ByteRange

_ONE_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")


def parse_range(header: str | None) -> ByteRange | None:
    if not header:
        return None
    match = _ONE_RANGE.match(header)
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        return ByteRange(suffix=int(last)) if int(last) > 0 else None
    if last and int(last) < int(first):
        return None
    return ByteRange(first=int(first), last=int(last) if last else None)
