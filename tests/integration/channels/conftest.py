"""Fixtures for sending every channel's requests to the fake platforms on 127.0.0.1, driven by
a manual clock that stands at the sample's fixed `NOW`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from herald.fakeplatforms import FakePlatforms, Limits, ManualClock, running_fake_platforms
from tests.unit.channels.conftest import channel_type, sender
from tests.unit.channels.support import NOW

__all__ = ["channel_type", "sender"]  # the unit tests' fixtures, used here too

# Roomy enough that sending every sample event in a row never trips a rate limit; the tests
# that exercise a limit set their own per bot.
ROOMY = Limits(
    feishu_per_second=1000,
    feishu_per_minute=1000,
    dingtalk_per_window=1000,
    slack_per_second=1000,
    discord_per_window=1000,
    teams_per_second=1000,
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest_asyncio.fixture
async def fake(clock: ManualClock) -> AsyncIterator[FakePlatforms]:
    async with running_fake_platforms(clock=clock, limits=ROOMY) as running:
        yield running


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
