"""Fixtures for the channel tests: every channel type and its sender."""

from __future__ import annotations

import pytest

from herald.channels.base import Sender
from herald.channels.registry import get_sender
from tests.unit.channels.support import CHANNEL_TYPES


@pytest.fixture(params=CHANNEL_TYPES)
def channel_type(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sender(channel_type: str) -> Sender:
    return get_sender(channel_type)
