"""The HTTP edge: FastAPI routes under /api/v1, one JSON error shape, bearer-token auth.

Routes stay thin: they check permissions, call a service and map its result to a schema.
They never import `herald.store`: data comes from the services the container holds.
"""
