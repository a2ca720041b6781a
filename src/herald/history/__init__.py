"""Delivery history as people read it: listings, details, resends, statistics,
target health.

May import `domain`, `runtime` and `store`.
"""
