"""The recording formats, described: the native script's JSON Schema."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from runner.formats import native_json_schema

router = APIRouter(prefix="/api/schema", tags=["schema"])


@router.get("/script")
async def script_schema() -> dict[str, Any]:
    """JSON Schema of the native script format (version 1). Chrome Recorder JSON is accepted as exported."""
    return native_json_schema()
