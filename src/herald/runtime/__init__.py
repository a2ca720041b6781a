"""Process-wide plumbing: settings, the clock seam, wake-up signals, heartbeats of
background loops, process tuning.

May import `domain` and `store` (to tell a database outage from a bug).
"""
