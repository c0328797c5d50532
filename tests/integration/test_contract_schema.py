"""The database mirrors the run contract (contract/runs.py), and every named query fits the schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import asyncpg
import pytest

from contract.runs import RUN_TRANSITIONS, AttemptStatus, RunStatus, StepStatus
from contract.schedules import ScheduleState
from contract.suites import SuiteRunStatus
from contract.webhooks import DeliveryStatus, WebhookEvent, WebhookFormat
from storage.queries import load_queries


@pytest.fixture
async def connection(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


@pytest.mark.parametrize(("sql_type", "enum"), [("run_status", RunStatus), ("attempt_status", AttemptStatus),
                                                ("step_status", StepStatus), ("schedule_state", ScheduleState),
                                                ("suite_run_status", SuiteRunStatus),
                                                ("webhook_event", WebhookEvent), ("webhook_format", WebhookFormat),
                                                ("webhook_delivery_status", DeliveryStatus)])
async def test_status_types_equal_the_contract(connection: asyncpg.Connection, sql_type: str,
                                               enum: type[RunStatus]) -> None:
    values = await connection.fetchval(f"SELECT enum_range(NULL::{sql_type})::text[]")
    assert values == [member.value for member in enum]


async def test_transition_table_equals_the_contract(connection: asyncpg.Connection) -> None:
    rows = await connection.fetch("SELECT from_status::text, to_status::text FROM run_status_transitions")
    in_sql = {(row["from_status"], row["to_status"]) for row in rows}
    in_python = {(current.value, new.value) for current, targets in RUN_TRANSITIONS.items() for new in targets}
    assert in_sql == in_python


async def test_the_database_refuses_every_change_the_contract_does_not_allow(
    connection: asyncpg.Connection,
) -> None:
    refused = []
    for current in RunStatus:
        for new in RunStatus:
            if new == current:
                continue
            run_id = uuid4()
            await connection.execute(
                "INSERT INTO runs (queue, id, name, script_format, script, options, status) "
                "VALUES ('q', $1, 'n', 'native', '{}', '{}', $2)", run_id, current.value)
            try:
                await connection.execute("UPDATE runs SET status = $2 WHERE id = $1", run_id, new.value)
            except asyncpg.CheckViolationError as error:
                assert f"cannot change from {current.value} to {new.value}" in str(error)
                refused.append((current, new))
            else:
                assert new in RUN_TRANSITIONS[current], f"{current} -> {new} was allowed"
    assert {(c, n) for c, n in refused} == {(c, n) for c in RunStatus for n in RunStatus
                                           if n != c and n not in RUN_TRANSITIONS[c]}


async def test_every_named_query_prepares_against_the_schema(connection: asyncpg.Connection) -> None:
    for name, sql in load_queries().items():
        try:
            await connection.prepare(sql)
        except asyncpg.PostgresError as error:
            pytest.fail(f"query {name} does not fit the schema: {error}")
