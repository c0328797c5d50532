"""What a schedule's tick does (worker.schedules.judge_tick) and what a schedule's timing accepts
(contract.schedules.ScheduleTiming), without a database, a queue or a browser."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

import pytest
from pydantic import ValidationError

from contract.schedules import ScheduleState, ScheduleTiming
from storage.schedules import TickedSchedule
from worker.schedules import TickAction, judge_tick

ACTIVE = TickedSchedule(id=uuid4(), name="nightly", state=ScheduleState.ACTIVE, recording_id=uuid4(),
                        recording_name="checkout", options={}, skip_if_running=True,
                        recording_script={"version": 1, "steps": []}, recording_priority="normal")


def test_an_active_schedule_with_nothing_running_runs() -> None:
    assert judge_tick(ACTIVE, None).action == TickAction.RUN


def test_a_run_still_going_skips_the_tick_naming_it_unless_overlap_is_allowed() -> None:
    verdict = judge_tick(ACTIVE, 41)
    assert verdict.action == TickAction.SKIP and not verdict.remove_scheduler
    assert verdict.reason == "run #41 of this schedule is still queued or running"
    assert judge_tick(replace(ACTIVE, skip_if_running=False), 41).action == TickAction.RUN


def test_a_deleted_recording_stops_the_schedule_for_good() -> None:
    verdict = judge_tick(replace(ACTIVE, recording_id=None, recording_script=None), None)
    assert verdict.action == TickAction.STOP and verdict.remove_scheduler
    assert verdict.reason == "recording checkout was deleted"


@pytest.mark.parametrize(("state", "removed"), [(ScheduleState.PAUSED, False), (ScheduleState.STOPPED, True)])
def test_a_paused_or_stopped_schedule_makes_no_run(state: ScheduleState, removed: bool) -> None:
    verdict = judge_tick(replace(ACTIVE, state=state), None)
    assert verdict.action == TickAction.IGNORE and verdict.remove_scheduler is removed


def test_a_deleted_schedule_makes_no_run_and_its_scheduler_goes() -> None:
    verdict = judge_tick(None, None)
    assert verdict.action == TickAction.IGNORE and verdict.remove_scheduler


def test_timing_gives_bullmq_its_repeat_options() -> None:
    assert ScheduleTiming(cron="*/2 * * * * *", timezone="Asia/Kolkata").repeat_options() == {
        "pattern": "*/2 * * * * *", "tz": "Asia/Kolkata"}
    assert ScheduleTiming(cron="0 0 * * *").repeat_options() == {"pattern": "0 0 * * *"}
    assert ScheduleTiming(every_ms=5000).repeat_options() == {"every": 5000}


@pytest.mark.parametrize(("body", "field"), [
    ({"cron": "* * * *"}, "cron"), ({"cron": "0 0 31 2 *"}, "cron"), ({"cron": "0 25 * * *"}, "cron"),
    ({"cron": "* * * * *", "timezone": "Europe/Atlantis"}, "timezone"), ({"everyMs": 500}, "everyMs"),
    ({"cron": "* * * * *", "everyMs": 5000}, "everyMs"), ({}, "everyMs"), ({"everyMs": 5000, "timezone": "UTC"},
                                                                           "timezone"),
])
def test_timing_refuses_naming_the_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        ScheduleTiming.model_validate(body)
    assert [".".join(map(str, error["loc"])) for error in raised.value.errors()] == [field]
