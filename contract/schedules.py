"""Schedules: a saved recording run again and again, on a cron pattern or every N milliseconds.

The state a schedule is in is defined here once; the database mirrors it (migration 0012: the `schedule_state`
ENUM) and tests/integration/test_contract_schema.py holds the two together.

    active ──> paused ──> active        (by request)
      │          │
      └──────────┴──> stopped           (its recording was deleted: final; the reason is kept)

`ScheduleTiming` is when it fires, validated as BullMQ's job scheduler will read it: a cron pattern of 5 fields,
or 6 with the seconds first (croniter's `second_at_beginning`, as bullmq calls it), in a time zone (IANA name,
default UTC); or `everyMs`, at least a second.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Annotated, Any
from zoneinfo import available_timezones

from croniter import CroniterBadCronError, CroniterBadDateError, croniter
from pydantic import AfterValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic.alias_generators import to_camel

from contract.options import CamelModel

MIN_EVERY_MS = 1_000
MAX_EVERY_MS = 366 * 24 * 3600 * 1000
MAX_CRON_CHARS = 200


class ScheduleState(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"


@cache
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def valid_cron(pattern: str | None) -> str | None:
    """A pattern BullMQ can schedule: valid, and firing at least once from now on (`0 0 30 2 *` never does)."""
    if pattern is None:
        return None
    pattern = pattern.strip()
    fields = pattern.split()
    if not 5 <= len(fields) <= 6:
        raise ValueError(f"a cron pattern has 5 fields, or 6 with the seconds first (got {len(fields)}): "
                         f"{pattern!r}")
    try:
        croniter(pattern, datetime.now(UTC), second_at_beginning=True).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(f"the cron pattern {pattern!r} never fires") from None
    except (CroniterBadCronError, ValueError, KeyError) as error:
        raise ValueError(f"not a valid cron pattern {pattern!r}: {error}") from None
    return pattern


def known_timezone(value: str | None) -> str | None:
    if value is not None and value not in _timezones():
        raise ValueError(f"unknown time zone {value!r} (expected an IANA name such as Europe/Paris)")
    return value


Cron = Annotated[str, AfterValidator(valid_cron)]
TimeZone = Annotated[str, AfterValidator(known_timezone)]


class ScheduleTiming(CamelModel):
    """When a schedule fires: `cron` (and `timezone`), or `everyMs`; exactly one of the two."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    cron: Cron | None = Field(default=None, max_length=MAX_CRON_CHARS, examples=["0 30 9 * * 1-5"],
                              description="A cron pattern: 5 fields, or 6 with the seconds first (BullMQ's)")
    every_ms: int | None = Field(default=None, ge=MIN_EVERY_MS, le=MAX_EVERY_MS,
                                 description="Fire every this many milliseconds (instead of cron)")
    timezone: TimeZone | None = Field(default=None, examples=["Europe/Paris"],
                                      description="The cron pattern's time zone (IANA name); default UTC")

    @model_validator(mode="before")
    @classmethod
    def _check_cadence_even_when_absent(cls, data: Any) -> Any:
        # A field left out is not validated (and a default validated anyway is reported under its Python name):
        # an explicit null is, under its wire name, so "neither cron nor everyMs" names `everyMs`.
        if isinstance(data, dict) and "everyMs" not in data and "every_ms" not in data:
            return {**data, "everyMs": None}
        return data

    @field_validator("every_ms")
    @classmethod
    def _one_cadence(cls, every_ms: int | None, info: ValidationInfo) -> int | None:
        if "cron" not in info.data:  # the cron pattern was refused already: that is the problem to report
            return every_ms
        cron = info.data["cron"]
        if cron is not None and every_ms is not None:
            raise ValueError("give either cron or everyMs, not both")
        if cron is None and every_ms is None:
            raise ValueError("give cron (a pattern, with an optional timezone) or everyMs")
        return every_ms

    @field_validator("timezone")
    @classmethod
    def _timezone_of_cron(cls, timezone: str | None, info: ValidationInfo) -> str | None:
        if timezone is not None and info.data.get("every_ms") is not None:
            raise ValueError("a timezone applies to a cron pattern only, not to everyMs")
        return timezone

    def describe(self) -> str:
        if self.every_ms is not None:
            return f"every {self.every_ms} ms"
        return f"cron {self.cron} ({self.timezone or 'UTC'})"

    def repeat_options(self) -> dict[str, object]:
        """BullMQ's `repeat` options for `upsertJobScheduler`."""
        if self.every_ms is not None:
            return {"every": self.every_ms}
        return {"pattern": self.cron, **({"tz": self.timezone} if self.timezone else {})}


def schedule_contract() -> dict[str, list[str]]:
    """The schedule states, for the dashboard (served with the run contract, `GET /api/contract`)."""
    return {"scheduleStates": [state.value for state in ScheduleState]}
