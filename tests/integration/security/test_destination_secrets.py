"""A destination's secrets are stored once, encrypted, and rotated with every other secret: the
channels that reference it keep no copy."""

from __future__ import annotations

import sqlalchemy as sa

from herald.bootstrap import Container
from herald.publishing.config_inputs import ConfigIn
from herald.publishing.destination_inputs import DestinationIn
from herald.runtime.clock import SystemClock
from herald.security.key_rotation import rotate_secrets
from herald.store.tables import callback_channels, destinations
from tests.conftest import make_settings

K1 = "first test-only key for destinations, 32+ chars"
K2 = "second test-only key for destinations, 32+ chars"
SECRET = "SECdestination+Secret/Value=42"
TOKEN = "dtDestinationToken9f8e7d6c5b"


def _build(url: str, key: str, old: list[str] | None = None) -> Container:
    return Container.build(
        make_settings(url, secret_key=key, old_secret_keys=old or []), SystemClock()
    )


def _dump(c: Container) -> str:
    with c.db.read() as conn:
        rows = [conn.execute(sa.select(t)).all() for t in (destinations, callback_channels)]
    return str(rows)


def test_a_destination_secret_is_kept_once_encrypted_and_rotated(store_url: str) -> None:
    c1 = _build(store_url, K1)
    project = c1.catalog.create_project("shop", "")
    body = {
        "name": "room",
        "type": "dingtalk",
        "config": {
            "webhook_url": f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}",
            "sign_secret": SECRET,
        },
    }
    room = c1.destinations.create(None, DestinationIn.model_validate(body), None)
    config = ConfigIn.model_validate(
        {"events": ["task_failed"], "channels": [{"destination_id": room.id}]}
    )
    cid = c1.callbacks.create(project.id, config, None).id
    stored = _dump(c1)
    assert SECRET not in stored and TOKEN not in stored
    with c1.db.read() as conn:
        (channel,) = conn.execute(sa.select(callback_channels)).all()
    assert channel.secret_config == "" and channel.destination_id == room.id
    c1.close()

    c2 = _build(store_url, K2, [K1])
    report = rotate_secrets(c2.db, c2.keyring, c2.clock)
    assert (report.channels, report.already_current) == (1, 0)  # the destination, once
    c2.close()
    c3 = _build(store_url, K2)
    try:
        assert c3.destinations.get(room.id).config == room.config
        assert c3.callbacks.get(cid).channels[0].config == room.config
    finally:
        c3.close()
