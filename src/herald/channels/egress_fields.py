"""Settings every HTTP channel shares: the egress proxy and the extra CA certificates its
requests use, overriding the operator's `HERALD_EGRESS_PROXY` / `HERALD_EGRESS_CA_BUNDLE`.

`proxy_url` is a marked destination URL: its password is a secret (encrypted with the rest of
the channel's settings, masked in answers, redacted from texts), it is vetted by the egress
guard when saved and when used (a channel's proxy, unlike the operator's, is not trusted to
sit on a private address unless `HERALD_EGRESS_ALLOW` says so), and a masked secret is not
carried to another proxy. `ca_bundle` is PEM text: certificates trusted in addition to the
system's and the operator's bundle, for targets (and an https proxy) with a private CA.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BeforeValidator, Field
from yarl import URL

from herald.channels.config_base import ChannelConfig, DestinationUrl, FieldText, Text
from herald.channels.fields import MAX_URL, empty_is_none, field_error, http_url, optional

MAX_PEM = 65_536


def _proxy_shape(value: str) -> str:
    parsed = URL(value)
    if parsed.path not in ("", "/") or parsed.query_string or parsed.fragment:
        raise field_error(
            "proxy_url",
            "proxy_url is scheme, host and port only (http://user:password@proxy:3128); "
            "remove the path and query",
        )
    return value


def _pem(value: str) -> str:
    if "-----BEGIN CERTIFICATE-----" not in value:
        raise field_error(
            "ca_bundle", "ca_bundle must be PEM certificates (-----BEGIN CERTIFICATE----- …)"
        )
    try:
        ssl.create_default_context().load_verify_locations(cadata=value)
    except (ssl.SSLError, ValueError) as exc:
        raise field_error(
            "ca_bundle",
            f"ca_bundle could not be read as PEM certificates ({exc.__class__.__name__})",
        ) from None
    return value


ProxyUrl = Annotated[
    Annotated[
        str,
        Field(min_length=1, max_length=MAX_URL),
        http_url("http://proxy.example.com:3128"),
        AfterValidator(_proxy_shape),
    ]
    | None,
    BeforeValidator(empty_is_none),
    DestinationUrl(),
]
CaBundle = Annotated[
    Annotated[str, Field(min_length=1, max_length=MAX_PEM)] | None,
    BeforeValidator(empty_is_none),
    optional(_pem),
]

EGRESS_TEXTS: Mapping[str, FieldText] = {
    "proxy_url": FieldText(
        Text("出口代理", "Egress proxy"),
        help=Text(
            "留空则使用 HERALD_EGRESS_PROXY（若已设置）。密码按密钥保存。",
            "Empty: HERALD_EGRESS_PROXY, if set. A password in it is kept as a secret.",
        ),
        placeholder="http://user:password@proxy.example.com:3128",
        advanced=True,
    ),
    "ca_bundle": FieldText(
        Text("额外 CA 证书", "Extra CA certificates"),
        help=Text(
            "PEM 格式，在系统与 HERALD_EGRESS_CA_BUNDLE 之外额外信任。",
            "PEM; trusted in addition to the system's and HERALD_EGRESS_CA_BUNDLE.",
        ),
        placeholder="-----BEGIN CERTIFICATE-----",
        advanced=True,
    ),
}


class HttpChannelConfig(ChannelConfig):
    """Base of the settings of a channel that sends over HTTP: adds `proxy_url` and
    `ca_bundle` (their form texts come after the channel's own, `form_texts`)."""

    shared_field_texts: ClassVar[Mapping[str, FieldText]] = EGRESS_TEXTS

    proxy_url: ProxyUrl = None
    ca_bundle: CaBundle = None


def proxy_of(config: ChannelConfig) -> tuple[str | None, str | None]:
    """The (proxy_url, ca_bundle) a channel's settings override, (None, None) for none."""
    if isinstance(config, HttpChannelConfig):
        return config.proxy_url, config.ca_bundle
    return None, None
