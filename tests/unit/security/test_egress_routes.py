"""Egress routes without I/O: the operator's proxy and CA bundle in settings, a channel's own
proxy and certificates in its settings, and which hop a request takes."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from herald.channels.channel_config import parse_channel_config
from herald.channels.credentials import masked, secret_values
from herald.channels.egress_fields import proxy_of
from herald.runtime.settings import ExplicitSettings
from herald.security.egress_proxy import ChannelEgress, EgressRoutes
from tests.unit.channels.support import RAW_CONFIGS

PASSWORD = "s3cret-proxy-password"


def test_the_operators_proxy_is_a_secret_setting() -> None:
    settings = ExplicitSettings(egress_proxy=f"http://ops:{PASSWORD}@proxy.corp:3128")
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings.model_dump())
    assert ExplicitSettings(egress_proxy="").egress_proxy is None


@pytest.mark.parametrize(
    "value", ["socks5://proxy:1080", "proxy.corp:3128", "http://proxy.corp:3128/path", "http://"]
)
def test_a_proxy_setting_that_is_no_proxy_url_is_refused_with_an_example(value: str) -> None:
    with pytest.raises(ValidationError, match="HERALD_EGRESS_PROXY must be http"):
        ExplicitSettings(egress_proxy=value)


def test_a_ca_bundle_must_load(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    for path in (str(tmp_path / "missing.pem"), str(broken)):
        with pytest.raises(ValidationError, match="HERALD_EGRESS_CA_BUNDLE: cannot load"):
            ExplicitSettings(egress_ca_bundle=path)


def test_hops() -> None:
    routes = EgressRoutes(f"http://ops:{PASSWORD}@proxy.corp:3128")
    hop = routes.hop()
    assert str(hop.proxy) == "http://proxy.corp:3128" and hop.auth and hop.auth.startswith("Basic ")
    assert not hop.vet_proxy and hop.tls is True and PASSWORD not in repr(hop)
    assert routes.proxy_host == "proxy.corp"
    own = routes.hop(ChannelEgress(proxy_url="http://team.proxy:8080"))
    assert str(own.proxy) == "http://team.proxy:8080" and own.auth is None and own.vet_proxy
    direct = EgressRoutes().hop()
    assert direct.proxy is None and EgressRoutes().proxy_host is None


def test_a_channels_proxy_password_is_masked_and_redacted() -> None:
    raw = {**RAW_CONFIGS["feishu"], "proxy_url": f"http://team:{PASSWORD}@proxy.corp:3128"}
    config = parse_channel_config("feishu", raw)
    assert PASSWORD not in str(masked(config))
    assert PASSWORD in secret_values(config)
    assert proxy_of(config) == (raw["proxy_url"], None)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("proxy_url", "http://proxy.corp:3128/some/path", "scheme, host and port only"),
        ("proxy_url", "ftp://proxy.corp", "http(s) URL"),
        ("ca_bundle", "hello", "PEM certificates"),
        ("ca_bundle", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", "could not"),
    ],
)
def test_bad_egress_settings_of_a_channel_are_refused(field: str, value: str, words: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_channel_config("custom", {**RAW_CONFIGS["custom"], field: value})
    assert words in str(refused.value)


def test_empty_egress_fields_mean_the_operators_route() -> None:
    config = parse_channel_config(
        "custom", {**RAW_CONFIGS["custom"], "proxy_url": "", "ca_bundle": ""}
    )
    assert proxy_of(config) == (None, None)
