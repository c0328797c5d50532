"""What route handlers receive, one `Annotated` dependency per resource. Everything is built once by the
lifespan (`api.app`) and kept on `app.state`; nothing here builds a connection.

The getters are `async def` although they do not wait: FastAPI runs a plain `def` dependency in its thread pool,
a thread hop per dependency per request (issue 18: it showed in the profile of `POST /api/runs` under load)."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from api.events import EventHub
from api.services.artifacts import ArtifactService
from api.services.baselines import BaselineService
from api.services.dead_letter import DeadLetterService
from api.services.flaky import FlakyService
from api.services.health import HealthService
from api.services.history import HistoryService
from api.services.metrics import MetricsService
from api.services.recordings import RecordingService
from api.services.runs import RunService
from api.services.schedules import ScheduleService
from api.services.stats import StatsService
from api.services.suites import SuiteService
from api.services.webhooks import WebhookService
from jobs.queue import RunQueue
from storage import QueueActions


def _state(request: Request, name: str) -> object:
    return getattr(request.app.state, name)


async def _runs(request: Request) -> RunService:
    return cast(RunService, _state(request, "runs"))


async def _recordings(request: Request) -> RecordingService:
    return cast(RecordingService, _state(request, "recordings"))


async def _schedules(request: Request) -> ScheduleService:
    return cast(ScheduleService, _state(request, "schedules"))


async def _suites(request: Request) -> SuiteService:
    return cast(SuiteService, _state(request, "suites"))


async def _webhooks(request: Request) -> WebhookService:
    return cast(WebhookService, _state(request, "webhooks"))


async def _artifacts(request: Request) -> ArtifactService:
    return cast(ArtifactService, _state(request, "artifacts"))


async def _dead_letter(request: Request) -> DeadLetterService:
    return cast(DeadLetterService, _state(request, "dead_letter"))


async def _health(request: Request) -> HealthService:
    return cast(HealthService, _state(request, "health"))


async def _stats(request: Request) -> StatsService:
    return cast(StatsService, _state(request, "stats"))


async def _metrics(request: Request) -> MetricsService:
    return cast(MetricsService, _state(request, "metrics"))


async def _queue(request: Request) -> RunQueue:
    return cast(RunQueue, _state(request, "queue"))


async def _queue_actions(request: Request) -> QueueActions:
    return cast(QueueActions, _state(request, "queue_actions"))


async def _events(request: Request) -> EventHub:
    return cast(EventHub, _state(request, "events"))


async def _flaky(request: Request) -> FlakyService:
    return cast(FlakyService, _state(request, "flaky"))


async def _history(request: Request) -> HistoryService:
    return cast(HistoryService, _state(request, "history"))


async def _baselines(request: Request) -> BaselineService:
    return cast(BaselineService, _state(request, "baselines"))


RunServiceDep = Annotated[RunService, Depends(_runs)]
SuiteServiceDep = Annotated[SuiteService, Depends(_suites)]
ArtifactServiceDep = Annotated[ArtifactService, Depends(_artifacts)]
RecordingServiceDep = Annotated[RecordingService, Depends(_recordings)]
ScheduleServiceDep = Annotated[ScheduleService, Depends(_schedules)]
DeadLetterServiceDep = Annotated[DeadLetterService, Depends(_dead_letter)]
HealthServiceDep = Annotated[HealthService, Depends(_health)]
WebhookServiceDep = Annotated[WebhookService, Depends(_webhooks)]
StatsServiceDep = Annotated[StatsService, Depends(_stats)]
MetricsServiceDep = Annotated[MetricsService, Depends(_metrics)]
QueueDep = Annotated[RunQueue, Depends(_queue)]
EventHubDep = Annotated[EventHub, Depends(_events)]
QueueActionsDep = Annotated[QueueActions, Depends(_queue_actions)]
HistoryServiceDep = Annotated[HistoryService, Depends(_history)]
BaselineServiceDep = Annotated[BaselineService, Depends(_baselines)]
FlakyServiceDep = Annotated[FlakyService, Depends(_flaky)]
