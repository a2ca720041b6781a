"""Herald's pure core: release tasks, events, callback subscriptions, delivery policy.

Nothing here performs I/O or imports SQLAlchemy, aiohttp, FastAPI or the standard library's
network, file or process modules. Time is passed in; randomness is injected. It imports
nothing of Herald outside `domain`.
"""
