"""The BullMQ queue of runs and the live-worker registry in Redis, shared by the API and the workers."""
