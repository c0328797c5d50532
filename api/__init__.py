"""The HTTP API: records runs in Postgres and queues them on BullMQ."""

from api.app import create_app

__all__ = ["create_app"]
