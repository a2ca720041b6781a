"""Executors deploy one host at a time for the engine; each returns the host's outcome.

The command executor runs an operator-defined argv (no shell) with the host, version, task and
project in its environment, in its own process group so a timeout kills everything it started.
Herald's own `HERALD_*` settings are removed from that environment: they hold the database URL,
the admin token and the encryption key, none of which a deploy script needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from herald.engine.releases import HostReport
from herald.runtime.settings import CommandSpec


@dataclass(frozen=True)
class DeployTarget:
    task_id: str
    project: str
    version: str
    host: str
    task_type: str
    environment: str
    executor: Mapping[str, object]


class Executor(Protocol):
    async def deploy(self, target: DeployTarget) -> HostReport: ...


class SimulatedExecutor:
    """Sleeps `host_seconds` per host and fails the hosts listed in `fail_hosts`."""

    async def deploy(self, target: DeployTarget) -> HostReport:
        seconds = float(str(target.executor.get("host_seconds", 0.1)))
        await asyncio.sleep(seconds)
        failing = target.executor.get("fail_hosts") or []
        ok = target.host not in (failing if isinstance(failing, list) else [])
        output = (
            f"simulated deploy of {target.version} to {target.host}: {'ok' if ok else 'failed'}"
        )
        return HostReport(target.host, ok, 0 if ok else 1, output)


class CommandExecutor:
    def __init__(self, commands: Mapping[str, CommandSpec]) -> None:
        self.commands = commands

    async def deploy(self, target: DeployTarget) -> HostReport:
        name = str(target.executor.get("name"))
        spec = self.commands.get(name)
        if spec is None:
            return HostReport(target.host, False, None, f"command {name!r} is no longer configured")
        try:
            proc = await asyncio.create_subprocess_exec(
                *spec.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=command_environment(target),
                start_new_session=True,
            )
        except OSError as exc:
            return HostReport(target.host, False, None, f"cannot run {spec.argv[0]!r}: {exc}")
        return await _collect(proc, target.host, spec)


def command_environment(target: DeployTarget) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    env.update(
        HERALD_HOST=target.host,
        HERALD_VERSION=target.version,
        HERALD_TASK_ID=target.task_id,
        HERALD_PROJECT=target.project,
        HERALD_TASK_TYPE=target.task_type,
        HERALD_ENVIRONMENT=target.environment,
    )
    return env


async def _collect(proc: asyncio.subprocess.Process, host: str, spec: CommandSpec) -> HostReport:
    output = BoundedOutput(spec.max_output)
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(spec.timeout):
            while chunk := await proc.stdout.read(65536):
                output.add(chunk)
            code = await proc.wait()
    except TimeoutError:
        _kill_group(proc)
        await proc.wait()
        output.add(f"\n[herald: killed after {spec.timeout:g}s timeout]\n".encode())
        return HostReport(host, False, None, output.text())
    except asyncio.CancelledError:
        _kill_group(proc)
        raise
    return HostReport(host, code == 0, code, output.text())


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


class BoundedOutput:
    """Keeps the first and last `limit/2` bytes of a stream and counts what it dropped."""

    def __init__(self, limit: int) -> None:
        self.half = limit // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self.half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        self.tail += chunk
        excess = len(self.tail) - self.half
        if excess > 0:
            del self.tail[:excess]
            self.dropped += excess

    def text(self) -> str:
        middle = f"\n[herald: {self.dropped} bytes omitted]\n".encode() if self.dropped else b""
        return bytes(self.head + middle + self.tail).decode("utf-8", errors="replace")


class ExecutorSet:
    """Picks the executor for a task's `executor.type`."""

    def __init__(self, commands: Mapping[str, CommandSpec]) -> None:
        self._by_type: dict[str, Executor] = {
            "simulated": SimulatedExecutor(),
            "command": CommandExecutor(commands),
        }

    def for_type(self, kind: str) -> Executor | None:
        return self._by_type.get(kind)
