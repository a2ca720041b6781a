"""The `herald` executable. `herald release …` and `herald notify …` run the HTTP client alone,
without importing the server (FastAPI, SQLAlchemy, uvicorn), so a pipeline step starts fast;
every other command loads the full command line."""

from __future__ import annotations

import sys

CLIENT_COMMANDS = frozenset({"release", "notify"})


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in CLIENT_COMMANDS:
        from herald.cli.release_commands import client_main

        client_main(sys.argv[1:])
        return
    from herald.cli.commands import main as full_main

    full_main()
