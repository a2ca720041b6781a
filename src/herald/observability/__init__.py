"""Logging and metrics.

May import `domain`, `store`, `runtime`, `security` and `channels`.
"""
