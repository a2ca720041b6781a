"""Process-wide plumbing: settings, the clock seam, wake-up signals, heartbeats of
background loops, process tuning.

Imports nothing of Herald but `domain`.
"""
