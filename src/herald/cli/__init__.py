"""The `herald` command: server modes, database and secrets chores, the demo.

May import anything: like `bootstrap`, it sits on top of every layer.
"""
