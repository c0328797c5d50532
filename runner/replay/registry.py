"""The one mapping from a step class to the handler that replays it, joined from the handler modules.

Each handler module (`runner.replay.handlers.*`) declares the step classes it replays in its `HANDLERS`; a
class claimed by two modules is refused when this module is imported, and a test checks that every step
class a parser can produce has its handler. The mapping is read-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from runner.formats.steps import Step
from runner.replay.context import Handler
from runner.replay.handlers import assertions, extensions, interaction, pages, waits

HANDLER_TABLES: tuple[Mapping[type[Step], Handler], ...] = (
    interaction.HANDLERS,
    waits.HANDLERS,
    assertions.HANDLERS,
    pages.HANDLERS,
    extensions.HANDLERS,
)


def join_handlers(tables: tuple[Mapping[type[Step], Handler], ...]) -> Mapping[type[Step], Handler]:
    """The tables as one read-only mapping; ValueError when two of them claim the same step class."""
    joined: dict[type[Step], Handler] = {}
    for table in tables:
        for step_class, handler in table.items():
            if step_class in joined:
                raise ValueError(f"two handlers for {step_class.__name__}: {joined[step_class].__qualname__} "
                                 f"and {handler.__qualname__}")
            joined[step_class] = handler
    return MappingProxyType(joined)


HANDLERS: Mapping[type[Step], Handler] = join_handlers(HANDLER_TABLES)
