"""Fixtures: a fake server on an ephemeral 127.0.0.1 port driven by a manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from herald.fakeplatforms import FakePlatforms, ManualClock, running_fake_platforms

START = 1_700_000_000.0  # matches the DingTalk test vector's millisecond timestamp


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest_asyncio.fixture
async def fake(clock: ManualClock) -> AsyncIterator[FakePlatforms]:
    async with running_fake_platforms(clock=clock) as running:
        yield running


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
