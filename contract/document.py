"""The whole contract clients may rely on, as one JSON document (served at `GET /api/contract`)."""

from __future__ import annotations

from typing import Any, get_args

from contract.options import Priority
from contract.runs import contract_document
from contract.schedules import schedule_contract
from contract.suites import suite_contract
from contract.webhooks import webhook_contract


def client_contract() -> dict[str, Any]:
    """Run, attempt and step statuses, the final run statuses, the allowed changes of a run's status, the failure
    categories, the schedule states, the suite run statuses, the run priorities, highest first, and the webhook events,
    formats and delivery statuses."""
    return {**contract_document(), **schedule_contract(), **suite_contract(), "priorities": list(get_args(Priority)),
            **webhook_contract()}
