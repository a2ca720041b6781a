"""Which parts of a channel's settings are secret, and how they are shown, redacted and kept.

Everything here derives from the marks on the settings model (`herald.channels.config_base`):
secret are the fields marked `SecretValue` (signing secrets, the WeCom app secret); the
credential parts of every `DestinationUrl` (a userinfo password, query values named like token,
key, sign, secret, passw, pwd, auth or credential, the Feishu/Slack/Discord path tokens), the
whole URL when it is marked `whole` (a chat robot's webhook is its credential), and its path and
query while the field its mark names (`secret_url`) is true; and in a `SecretHeaders` field the
values of headers named like a credential (`is_credential_header`) or listed in the field its
mark names (`secret_headers`). Everything else is ordinary text: shown in clear by the API, the
history and previews, and never redacted from bodies or error texts.

`masked` is what the API and the audit log show. `secret_values` lists the secrets in clear for
`redact_text`. `merge_masked` lets a client send back what it read: a secret sent back exactly
as shown keeps the stored value. `refuse_kept_secrets` is the destination rule: a stored secret
belongs to the destination it was entered for, so when a URL field's scheme, host or port
changes, every secret sent back masked is refused and must be entered again (otherwise whoever
may edit a channel could redirect an admin's credentials to a server of their choosing).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from yarl import URL

from herald.channels.config_base import ChannelConfig, DestinationUrl, marks
from herald.channels.fields import MASK, is_credential_header
from herald.security.redaction import mask_secret, mask_url_credentials, url_credentials

_HOST = re.compile(r"(?:[A-Za-z0-9-]+\.)+[A-Za-z0-9-]+")  # a dotted name or IPv4 address
MIN_URL_CREDENTIAL = 8  # shorter URL parts are too likely to be ordinary words to redact
MIN_SECRET = 4  # shorter secrets are left out of redaction: it would mangle any text


def destination_fields(config: ChannelConfig) -> tuple[str, ...]:
    """The fields of `config` naming where its requests go (its `DestinationUrl` fields)."""
    return tuple(name for name, _ in marks(type(config)).urls)


def secret_header_names(config: ChannelConfig) -> frozenset[str]:
    """Lower-case names of `config`'s headers whose values are secret (`SecretHeaders` fields)."""
    found: set[str] = set()
    for field, mark in marks(type(config)).headers:
        listed = {name.lower() for name in getattr(config, mark.listed_in)}
        found.update(
            name.lower()
            for name in getattr(config, field)
            if is_credential_header(name) or name.lower() in listed
        )
    return frozenset(found)


def shown_headers(headers: Mapping[str, str], secret: frozenset[str]) -> dict[str, str]:
    """`headers` with the values of the `secret` (lower-case) names replaced by the mask."""
    return {name: MASK if name.lower() in secret else value for name, value in headers.items()}


def shown_url(config: ChannelConfig, field: str) -> str:
    """The URL in `field` (set) as it may be shown: credential parts masked, and while its
    path is secret (`hides_path`) its path and query replaced by `/****`."""
    url: str = getattr(config, field)
    mark = dict(marks(type(config)).urls)[field]
    if mark.opaque:
        return mask_opaque(url)
    if _path_secret(config, mark):
        return mask_path_and_query(url)
    return mask_url_credentials(url)


def hides_path(config: ChannelConfig) -> bool:
    """Whether a destination URL's path and query are secret in `config` (`secret_url`)."""
    return any(_path_secret(config, mark) for _, mark in marks(type(config)).urls)


def _path_secret(config: ChannelConfig, mark: DestinationUrl) -> bool:
    return mark.path_secret_if is not None and bool(getattr(config, mark.path_secret_if))


def describe_target(config: ChannelConfig) -> str:
    """The target of `config` as the targets list shows it: the type and its destination (the
    model's `target_description` over the masked settings), secrets masked."""
    view = masked(config)
    template = config.target_description or "{" + config.destination_field + "}"
    return f"{config.channel_type} {template.format_map(view)}".strip()


def mask_opaque(url: str) -> str:
    """`scheme://****` and the last 4 characters of a URL that is a credential throughout."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{mask_secret(rest)}" if rest else MASK


def mask_path_and_query(url: str) -> str:
    """`scheme://host[:port]/****` (a userinfo password masked too); never raises."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    return mask_url_credentials(urlunsplit((parts.scheme, parts.netloc, "", "", ""))) + "/" + MASK


def masked(config: ChannelConfig) -> dict[str, Any]:
    """`config` as the API and the audit log show it: every secret masked, the rest in clear."""
    shown = config.model_dump(mode="json")
    found = marks(type(config))
    for name in found.secrets:
        if shown.get(name) is not None:
            shown[name] = mask_secret(shown[name])
    for name, _ in found.urls:
        if shown.get(name) is not None:  # an optional URL (a channel's own proxy) may be unset
            shown[name] = shown_url(config, name)
    for name, _ in found.headers:
        shown[name] = shown_headers(getattr(config, name), secret_header_names(config))
    return shown


def secret_values(config: ChannelConfig) -> list[str]:
    """Every secret of `config` in clear, longest first, for redacting text that may echo one.

    Adds the credential alone for `<scheme> <credentials>` header values and the token parts of
    URLs, since receivers and platforms often quote only those. Values shorter than 4 characters
    are left out: redacting them would mangle any text.
    """
    declared = marks(type(config))
    found = [
        value for value in (getattr(config, name) for name in declared.secrets) if value is not None
    ]
    for name, mark in declared.urls:
        if getattr(config, name) is not None:
            found += _url_secrets(config, mark, getattr(config, name))
    secret = secret_header_names(config)
    for name, _ in declared.headers:
        for header, value in getattr(config, name).items():
            if header.lower() in secret:
                found += _header_credentials(value)
    return sorted({v for v in found if len(v) >= MIN_SECRET}, key=len, reverse=True)


def _url_secrets(config: ChannelConfig, mark: DestinationUrl, url: str) -> list[str]:
    credentials = url_credentials(url)
    parts = [v for v in credentials if len(v) >= MIN_URL_CREDENTIAL]
    if mark.opaque:
        rest = url.partition("://")[2]
        pieces = [rest, *rest.replace("?", "/").replace("&", "/").split("/")]
        pieces += [p for piece in list(pieces) for p in piece.split(":") + piece.split("@")]
        # A host name or address in the URL is where it goes, not a credential.
        found = [p for p in pieces if len(p) >= MIN_URL_CREDENTIAL and not _HOST.fullmatch(p)]
        return [url, *parts, *found]
    if _path_secret(config, mark):
        return [url, *parts, *_path_and_query_parts(url)]
    # A URL is worth redacting whole only when it is, or holds, a credential: a plain URL in an
    # error text is ordinary information.
    whole = mark.whole or bool(credentials)
    return [url, *parts] if whole else parts


def _path_and_query_parts(url: str) -> list[str]:
    """The path and query of a secret URL, together and apart, with their longer pieces."""
    split = urlsplit(url)
    pieces = [split.path, split.query, unquote(split.path)]
    if split.query:
        pieces.append(f"{split.path}?{split.query}")
    pieces += [unquote(segment) for segment in split.path.split("/")]
    pieces += [value for _, value in parse_qsl(split.query, keep_blank_values=True)]
    return [piece for piece in pieces if len(piece) >= MIN_URL_CREDENTIAL]


# `<auth-scheme> <credentials>`, as in "Bearer abc…" or "Token abc…" (RFC 9110 §11.4).
_SCHEME_AND_CREDENTIALS = re.compile(r"[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*[ \t]+(\S.*?)\s*")


def _header_credentials(value: str) -> list[str]:
    """A header value and, when it is `<scheme> <credentials>`, the credentials alone:
    receivers rejecting a request often echo just the token they were sent."""
    match = _SCHEME_AND_CREDENTIALS.fullmatch(value.strip())
    return [value, match.group(1)] if match else [value]


# -- round-tripping -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Merged:
    """New settings with masked secrets resolved; `kept` names the fields (a header as
    `headers.<name>`) whose stored secret a masked value kept."""

    settings: dict[str, Any]
    kept: tuple[str, ...]


def merge_masked(incoming: Mapping[str, Any], stored: ChannelConfig) -> Merged:
    """`incoming` settings where every secret sent back masked keeps `stored`'s value.

    A secret equal to what `masked(stored)` shows, or to "****", means "unchanged"; any other
    value replaces the stored one, and a secret left out is removed. Headers sent back as "****"
    keep the stored value of the header of that name (ignoring case). Whether keeping is allowed
    is `refuse_kept_secrets`'s decision, once the new settings are valid.
    """
    merged, kept = dict(incoming), []
    declared = marks(type(stored))
    for name, _ in declared.urls:
        current = getattr(stored, name)
        if current is None:
            continue
        shown = shown_url(stored, name)
        if name in merged and merged[name] in (MASK, shown):
            merged[name] = current
            if shown != current:
                kept.append(name)
    for name in declared.secrets:
        current = getattr(stored, name)
        if current is not None and name in merged and merged[name] in (MASK, mask_secret(current)):
            merged[name] = current
            kept.append(name)
    for name, _ in declared.headers:
        if isinstance(merged.get(name), Mapping):
            merged[name] = _merge_headers(name, merged[name], getattr(stored, name), kept)
    return Merged(merged, tuple(kept))


def _merge_headers(
    field: str, incoming: Mapping[str, Any], stored: Mapping[str, str], kept: list[str]
) -> dict[str, Any]:
    """`incoming` headers where "****" keeps the stored value of the header of that name;
    appends `<field>.<name>` to `kept` for each."""
    by_name = {name.lower(): value for name, value in stored.items()}
    headers = dict(incoming)
    for name, value in headers.items():
        if value == MASK and name.lower() in by_name:
            headers[name] = by_name[name.lower()]
            kept.append(f"{field}.{name}")
    return headers


class KeptSecretRefused(ValueError):
    """Secrets sent back masked that may not be kept; `problems` lists (field, message)."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))
        self.problems = list(problems)


def destination(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of `url` as the HTTP client reads it, the default port filled in."""
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        return ("", url, None)  # unparseable: only an identical text is the same destination
    return ((parsed.scheme or "").lower(), (parsed.raw_host or "").lower(), parsed.port)


def refuse_kept_secrets(config: ChannelConfig, stored: ChannelConfig, kept: Sequence[str]) -> None:
    """Raise `KeptSecretRefused` unless every secret `merge_masked` kept may stay.

    `config` is the validated new settings, `stored` the old ones. A kept secret is refused
    when any URL field's scheme, host or port differs from the stored one (it would go to
    a destination it was not entered for), and when the new settings would show it in clear
    (a header no longer secret, `secret_url` turned off): unmasking takes the value itself.
    """
    moved = [
        name
        for name in destination_fields(config)
        if destination(getattr(config, name)) != destination(getattr(stored, name))
    ]
    if moved:
        reason = (
            f"{moved[0]} now points at another scheme, host or port, so this secret must be "
            "entered again: a masked value cannot carry it to a new destination"
        )
        problems = [(field, reason) for field in kept]
    else:
        problems = _unmasked(config, stored, kept)
    if problems:
        raise KeptSecretRefused(problems)


def _unmasked(
    config: ChannelConfig, stored: ChannelConfig, kept: Sequence[str]
) -> list[tuple[str, str]]:
    """Kept secrets the new settings would show in clear (both settings of one type)."""
    if type(config) is not type(stored):
        return []
    declared = marks(type(config))
    secret = secret_header_names(config)
    problems = [
        (
            field,
            "was sent back masked but the header is no longer secret (not named like a "
            f"credential, not in {mark.listed_in}): enter its value again to show it in clear",
        )
        for name, mark in declared.headers
        for field in kept
        if field.startswith(f"{name}.") and field.removeprefix(f"{name}.").lower() not in secret
    ]
    for name, url_mark in declared.urls:
        flag = url_mark.path_secret_if
        if name in kept and flag and getattr(stored, flag) and not getattr(config, flag):
            problems.append(
                (name, f"was sent back masked but {flag} is now false: enter the URL again")
            )
    return problems
