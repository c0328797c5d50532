"""`GET /api/runs/{id}/artifacts/{artifactId}`: an artifact, whatever store holds it, answering Range requests
(206) so a video player can seek: a local file directly, a remote object streamed (proxy) or through a
302 to a short-lived presigned URL (redirect), as ARTIFACT_DELIVERY says."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Path
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from api.auth import needs
from api.deps import ArtifactServiceDep
from api.ranges import parse_range
from api.responses import errors
from api.services.artifacts import LocalFile, Redirect
from contract import limits
from contract.access import Scope

router = APIRouter(prefix="/api/runs", tags=["runs"])
# A saved page (or anything else recorded from the site under test) must not run in our origin.
ARTIFACT_HEADERS = {"Content-Security-Policy": "sandbox; frame-ancestors 'none'", "X-Content-Type-Options": "nosniff"}


_BYTES = {"application/octet-stream": {"schema": {"type": "string"}}}


@router.get("/{run_id}/artifacts/{artifact_id}", name="download_artifact", dependencies=needs(Scope.READ),
             responses={
    **errors(404, 410, 416), 200: {"content": _BYTES},
    206: {"description": "Part of the artifact (Range)", "content": _BYTES},
    302: {"description": "Redirect to a presigned URL (ARTIFACT_DELIVERY=redirect)"}})
async def download_artifact(run_id: UUID, artifact_id: Annotated[int, Path(ge=1, le=limits.MAX_INT64)],
                            artifacts: ArtifactServiceDep,
                            range_header: Annotated[str | None, Header(alias="Range")] = None) -> Response:
    """The artifact's bytes; answers `Range: bytes=...` with 206 and Content-Range."""
    artifact, delivery = await artifacts.deliver(run_id, artifact_id, parse_range(range_header))
    filename = artifact.storage_key.rsplit("/", 1)[-1]
    if isinstance(delivery, LocalFile):
        return FileResponse(delivery.path, media_type=artifact.content_type, filename=filename,
                            content_disposition_type="inline", headers=ARTIFACT_HEADERS)
    if isinstance(delivery, Redirect):
        return RedirectResponse(delivery.url, status_code=302, headers={"Cache-Control": "no-store"})
    content = delivery.content
    headers = {**ARTIFACT_HEADERS, "Accept-Ranges": "bytes", "Content-Length": str(content.length),
               "Content-Disposition": f'inline; filename="{filename}"'}
    if content.partial:
        headers["Content-Range"] = f"bytes {content.first}-{content.last}/{content.total}"
    return StreamingResponse(content.chunks, status_code=206 if content.partial else 200,
                             media_type=artifact.content_type, headers=headers)
