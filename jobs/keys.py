"""Every Redis key and channel name Reprise itself uses beside BullMQ's own (`bull:<queue>:...`), in one
place. Each is scoped by the queue name, so queues sharing a Redis never see each other's."""

from __future__ import annotations


def cancel_channel(queue_name: str) -> str:
    """Pub/sub channel on which the API tells workers to stop a running run (message: the run id)."""
    return f"reprise:{queue_name}:cancel"


def worker_key_prefix(queue_name: str) -> str:
    """Heartbeat keys of live workers: `<prefix><worker name>` = JSON, with a TTL."""
    return f"reprise:{queue_name}:worker:"


def sweep_lock_key(queue_name: str) -> str:
    """Held by the worker that runs the orphan sweep, so one worker at a time sweeps."""
    return f"reprise:{queue_name}:sweep-lock"


def maintenance_queue(queue_name: str) -> str:
    """The BullMQ queue of the fleet's maintenance jobs (retention passes), apart from the runs queue, so that
    queue holds runs only: `<queue>-maintenance` (keys `bull:<queue>-maintenance:...`)."""
    return f"{queue_name}-maintenance"


def webhooks_queue(queue_name: str) -> str:
    """The BullMQ queue of webhook deliveries (jobs/webhooks.py): `<queue>-webhooks` (keys
    `bull:<queue>-webhooks:...`), apart from the runs queue so that one holds runs only."""
    return f"{queue_name}-webhooks"


def suites_queue(queue_name: str) -> str:
    """The BullMQ queue of suite runs' parent jobs (a flow each: its children are the runs' jobs on the runs queue),
    apart from the runs queue so a suite's decision never waits behind runs: `<queue>-suites`."""
    return f"{queue_name}-suites"
