"""What the API does, apart from HTTP: routers call these services, services call storage and the queue.

One service per resource (runs, recordings, dead letter, health). A service never sees a request or a
response; it returns records and raises domain errors, which `api.errors` turns into HTTP in one place.
"""
