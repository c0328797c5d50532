"""Query and path parameter types every route shares, bounded (contract/limits.py) so that no value reaches
Postgres or Redis out of its range: a number over int64, a date before 1970 or after 9999, a NUL character
or a number given where a date is expected are 422s naming the parameter."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator, BeforeValidator

from contract import limits


def _date_text(value: object) -> object:
    """Dates are ISO 8601 text (`2026-05-01`, `2026-05-01T12:00:00Z`), never a bare number (pydantic would read
    `0.5` as seconds after the epoch)."""
    if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
        raise ValueError("expected an ISO 8601 date or date-time (2026-05-01T12:00:00Z), not a number")
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _date_range(value: datetime | None) -> datetime | None:
    if value is not None and not limits.MIN_YEAR <= value.year <= limits.MAX_YEAR - 1:
        raise ValueError(f"expected a date between {limits.MIN_YEAR} and {limits.MAX_YEAR - 1}")
    return value


Timestamp = Annotated[datetime, BeforeValidator(_date_text), AfterValidator(_date_range)]
# What the OpenAPI says of a Timestamp parameter: ISO 8601, from 1970 to 9998.
TIMESTAMP_SCHEMA = {"format": "date-time", "pattern": "^(19[7-9][0-9]|[2-9][0-9]{3})-"}
Offset = Annotated[int, Query(ge=0, le=limits.MAX_OFFSET, description="Items to skip")]
Limit = Annotated[int, Query(ge=1, le=500)]
NO_NUL = r"^[^\x00]*$"
