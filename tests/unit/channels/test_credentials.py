"""Which values are secret, how they are shown, and when a masked secret may be kept (issue 9,
defects 3 and 4): secrets stay with their destination; ordinary text is never masked."""

from __future__ import annotations

from typing import Any

import pytest

from herald.channels.channel_config import ChannelConfig, parse_channel_config
from herald.channels.config_base import marks
from herald.channels.credentials import (
    KeptSecretRefused,
    masked,
    merge_masked,
    refuse_kept_secrets,
    secret_values,
)
from herald.channels.custom import CustomConfig
from herald.channels.fields import is_credential_header
from tests.unit.channels.support import CHANNEL_TYPES, config

# -- which headers are credentials ---------------------------------------------------------------

CREDENTIAL_HEADERS = [
    "Authorization",
    "proxy-authorization",
    "Cookie",
    "X-Api-Key",
    "apikey",
    "X-Auth-Token",
    "X-Access-Token",
    "X-Hub-Signature-256",
    "X-Client-Secret",
    "X-Password",
    "X-Session-Id",
    "X-Credential",
    "X-Pwd",
]
ORDINARY_HEADERS = ["X-Team", "Content-Type", "User-Agent", "X-Request-Id", "Accept", "X-Env"]


@pytest.mark.parametrize("name", CREDENTIAL_HEADERS)
def test_headers_named_like_credentials_are_secret(name: str) -> None:
    assert is_credential_header(name)


@pytest.mark.parametrize("name", ORDINARY_HEADERS)
def test_other_headers_are_ordinary_text(name: str) -> None:
    assert not is_credential_header(name)


# -- what is shown and what is redacted ----------------------------------------------------------


def custom(**changes: Any) -> ChannelConfig:
    return config("custom", **changes)


def test_only_secret_header_values_are_masked_and_redacted() -> None:
    cfg = custom(
        headers={
            "Authorization": "Bearer ci-token-0123456789",
            "X-Team": "payments",
            "X-Flag": "blue-green-7",
        },
        secret_headers=["x-flag"],
    )
    assert masked(cfg)["headers"] == {
        "Authorization": "****",
        "X-Team": "payments",
        "X-Flag": "****",
    }
    assert masked(cfg)["secret_headers"] == ["x-flag"]
    values = secret_values(cfg)
    assert {"Bearer ci-token-0123456789", "ci-token-0123456789", "blue-green-7"} <= set(values)
    assert "payments" not in values


def test_a_secret_url_shows_only_its_scheme_host_and_port() -> None:
    url = "https://user:hunter2-pw@hooks.example.com:8443/T0k3nPath/notify?team=ops&sig=abcdef12"
    cfg = custom(url=url, secret_url=True, headers={})
    assert masked(cfg)["url"] == "https://user:****@hooks.example.com:8443/****"
    values = set(secret_values(cfg))
    assert {url, "/T0k3nPath/notify", "team=ops&sig=abcdef12", "T0k3nPath", "abcdef12"} <= values
    assert "hunter2-pw" in values
    assert "notify" not in values and "ops" not in values  # short words stay readable
    # Not marked secret: only the credential parts are masked.
    plain = custom(url=url, headers={})
    assert masked(plain)["url"] == (
        "https://user:****@hooks.example.com:8443/T0k3nPath/notify?team=ops&sig=****"
    )


def test_a_secret_url_round_trips_masked() -> None:
    stored = custom(url="https://hooks.example.com/T0k3nPath/notify", secret_url=True)
    merged = merge_masked(masked(stored), stored)
    assert parse_channel_config("custom", merged.settings) == stored
    assert "url" in merged.kept
    refuse_kept_secrets(parse_channel_config("custom", merged.settings), stored, merged.kept)


# -- the destination rule ----------------------------------------------------------------------

MOVED = {
    "feishu": "https://evil.example.com/open-apis/bot/v2/hook/attacker-token-01",
    "dingtalk": "https://evil.example.com/robot/send?access_token=attacker0123456789",
    "wechat": "https://evil.example.com",
    "wecom_bot": "https://evil.example.com/cgi-bin/webhook/send?key=attacker-key-01",
    "custom": "https://evil.example.com/herald/hook",
    "slack": "https://evil.example.com/services/T1/B1/attacker",
    "discord": "https://evil.example.com/api/webhooks/1/attacker",
    "email": "smtps://evil.example.com:465",
    "teams": "https://evil.example.com/workflows/1/triggers/manual/paths/invoke?sig=x",
    "apprise": "json://evil.example.com/collect",
}
# What a maintainer pointing the channel elsewhere would keep by sending the masks back.
KEPT = {
    "feishu": {"sign_secret"},
    "dingtalk": {"sign_secret"},
    "wechat": {"secret"},
    "wecom_bot": set(),
    "custom": {"signing_secret", "headers.Authorization"},
    "slack": set(),
    "discord": set(),
    "email": {"password"},
    "teams": set(),
    "apprise": set(),
}


def moved(channel_type: str, url: str) -> tuple[ChannelConfig, ChannelConfig, tuple[str, ...]]:
    stored = config(channel_type)
    field = stored.destination_field
    merged = merge_masked({**masked(stored), field: url}, stored)
    return parse_channel_config(channel_type, merged.settings), stored, merged.kept


@pytest.mark.parametrize("channel_type", CHANNEL_TYPES)
def test_masked_secrets_do_not_follow_a_new_destination(channel_type: str) -> None:
    new, stored, kept = moved(channel_type, MOVED[channel_type])
    assert set(kept) == KEPT[channel_type]
    declared = marks(type(stored)).secrets
    assert set(declared) <= KEPT[channel_type]  # every declared secret
    if not kept:  # a robot's only secret is its URL, entered anew
        refuse_kept_secrets(new, stored, kept)
        return
    with pytest.raises(KeptSecretRefused) as refused:
        refuse_kept_secrets(new, stored, kept)
    assert {field for field, _ in refused.value.problems} == KEPT[channel_type]
    url_field = stored.destination_field
    assert all(
        f"{url_field} now points at another scheme, host or port" in message
        and "entered again" in message
        for _, message in refused.value.problems
    )


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        pytest.param("http://ci.example.com/herald/hook", True, id="scheme"),
        pytest.param("https://ci.example.com:8443/herald/hook", True, id="port"),
        pytest.param("https://ci2.example.com/herald/hook", True, id="host"),
        pytest.param("https://ci.example.com.evil.example/herald/hook", True, id="suffix"),
        pytest.param("https://ci.example.com/other/path?x=1", False, id="path-and-query"),
        pytest.param("https://ci.example.com:443/herald/hook", False, id="default-port"),
        pytest.param("https://CI.Example.com/herald/hook", False, id="host-case"),
    ],
)
def test_what_counts_as_another_destination(url: str, refused: bool) -> None:
    new, stored, kept = moved("custom", url)
    assert set(kept) == {"signing_secret", "headers.Authorization"}
    if refused:
        with pytest.raises(KeptSecretRefused):
            refuse_kept_secrets(new, stored, kept)
    else:
        refuse_kept_secrets(new, stored, kept)
        assert isinstance(new, CustomConfig) and isinstance(stored, CustomConfig)
        assert new.headers["Authorization"] == stored.headers["Authorization"]


def test_secrets_entered_again_may_go_to_the_new_destination() -> None:
    stored = config("custom")
    incoming = {
        **masked(stored),
        "url": MOVED["custom"],
        "headers": {"Authorization": "Bearer new-token-for-evil", "X-Team": "payments"},
        "signing_secret": None,
    }
    merged = merge_masked(incoming, stored)
    assert merged.kept == ()
    refuse_kept_secrets(parse_channel_config("custom", merged.settings), stored, merged.kept)


def test_a_kept_secret_may_not_be_unmasked() -> None:
    stored = custom(
        url="https://hooks.example.com/T0k3nPath/notify",
        secret_url=True,
        headers={"X-Tenant": "acme-tenant-42"},
        secret_headers=["X-Tenant"],
    )
    shown = masked(stored)
    for change, field in (
        ({"secret_headers": []}, "headers.X-Tenant"),
        ({"secret_url": False}, "url"),
    ):
        merged = merge_masked({**shown, **change}, stored)
        new = parse_channel_config("custom", merged.settings)
        with pytest.raises(KeptSecretRefused) as refused:
            refuse_kept_secrets(new, stored, merged.kept)
        assert [f for f, _ in refused.value.problems] == [field]
        assert "enter" in refused.value.problems[0][1]


def test_an_apprise_url_is_secret_throughout_but_its_host_is_not() -> None:
    settings = parse_channel_config(
        "apprise", {"url": "json://user:apprise-password@ntfy.example.com/topic-secret-0123"}
    )
    values = secret_values(settings)
    assert "apprise-password" in values and "topic-secret-0123" in values
    assert "ntfy.example.com" not in values  # redacting it would hide every link to the host
    assert masked(settings)["url"] == "json://****0123"
