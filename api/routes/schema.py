"""What clients may rely on: the run contract (statuses, transitions, categories) and the native script's
JSON Schema."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.auth import needs
from contract.access import Scope
from contract.document import client_contract
from runner.formats import native_json_schema

router = APIRouter(prefix="/api", tags=["schema"])


@router.get("/schema/script", dependencies=needs(Scope.READ))
async def script_schema() -> dict[str, Any]:
    """JSON Schema of the native script format (versions 1 and 2). Chrome Recorder JSON is accepted as exported."""
    return native_json_schema()


@router.get("/contract", dependencies=needs(Scope.READ))
async def run_contract() -> dict[str, Any]:
    """Run, attempt and step statuses, which run statuses are final, the allowed changes of a run's status,
    the failure categories, the schedule states and the run priorities, highest first (the dashboard builds its
    filters from this)."""
    return client_contract()
