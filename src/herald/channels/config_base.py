"""The base of every channel type's settings model, with the marks and facts it carries.

A platform module subclasses `ChannelConfig`, marks its secret fields in their annotations
(`SecretValue`, `DestinationUrl`, `SecretHeaders`) and states its facts as class attributes.
Masking, merging of masked values and redaction (`herald.channels.credentials`), unusual-host
warnings and parsing by type name (`herald.channels.channel_config`), save-time egress checks,
target descriptions and the API's channel-type schema all derive from those: nothing else in
Herald names a channel's fields.

Kept apart from `channel_config` so that platform modules import only this module and the
registry can import them without a cycle.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

_TYPE_NAME = re.compile(r"[a-z][a-z0-9_]{0,15}")  # the store keeps a type in 16 characters


@dataclass(frozen=True)
class Text:
    """A text in both UI languages."""

    zh: str
    en: str


@dataclass(frozen=True)
class FieldText:
    """How a settings field is presented in forms: its label, optional help text and placeholder.

    `send_empty`: a form field left empty is sent as "" (which means "none" for this field)
    instead of being left out (which means "the default"). `advanced`: shown with the
    advanced settings, folded away (the egress proxy, CA certificates).
    """

    label: Text
    help: Text | None = None
    placeholder: str | None = None
    send_empty: bool = False
    advanced: bool = False


@dataclass(frozen=True)
class PathHint:
    """A warning for a destination URL whose path does not contain `contains`; `what` names
    the kind of URL expected, e.g. "a bot webhook (…/hook/<token>)"."""

    contains: str
    what: str


class _Mark:
    """A marker in a field's `Annotated` metadata; adds `schema_extra` to its JSON Schema."""

    def schema_extra(self) -> dict[str, Any]:
        return {}

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        schema.update(self.schema_extra())
        return schema


@dataclass(frozen=True)
class SecretValue(_Mark):
    """The field's value is a secret: masked when shown, redacted from texts that echo it, kept
    when sent back masked. For text fields (signing secrets, app secrets)."""

    def schema_extra(self) -> dict[str, Any]:
        return {"secret": True}


@dataclass(frozen=True)
class DestinationUrl(_Mark):
    """The field is a URL requests go to.

    Its credential parts (a userinfo password, query values named like a token, known path
    tokens) are always secret; `whole`: the whole URL is the credential (chat robot webhooks:
    whoever has it can post); `path_secret_if` names a boolean field that, when true, makes the
    path and query secret too. A secret kept masked is refused when this URL's scheme, host or
    port changes, and the URL is checked by the egress guard when settings are saved.
    """

    whole: bool = False
    path_secret_if: str | None = None
    # The schemes the URL may use; None: any (Apprise URLs), whose hosts the sender vets.
    schemes: tuple[str, ...] | None = ("http", "https")
    # Everything after the scheme is the credential (Apprise URLs carry tokens in any part):
    # shown as `scheme://****` plus the last 4 characters.
    opaque: bool = False

    def schema_extra(self) -> dict[str, Any]:
        if self.whole:
            return {"format": "uri", "secret": True}
        parts = "credentials"
        if self.path_secret_if:
            parts += f"; path and query when {self.path_secret_if} is true"
        return {"format": "uri", "x-secret-parts": parts}


@dataclass(frozen=True)
class SecretHeaders(_Mark):
    """The field maps HTTP header names to values; a value is secret when its header is named
    like a credential (`fields.is_credential_header`) or listed in the field `listed_in`."""

    listed_in: str

    def schema_extra(self) -> dict[str, Any]:
        return {
            "x-secret-parts": (
                f"values of headers named like a credential or listed in {self.listed_in}"
            )
        }


@dataclass(frozen=True)
class Marks:
    """A settings model's marked fields, by kind, in declaration order."""

    secrets: tuple[str, ...]
    urls: tuple[tuple[str, DestinationUrl], ...]
    headers: tuple[tuple[str, SecretHeaders], ...]


class ChannelConfig(BaseModel):
    """Base of every channel type's settings (the PRD `config` object of a channel).

    Unknown fields are rejected so typos surface, and types are strict. Subclasses set:
    `channel_type` (the PRD `type`, at most 16 characters), `type_label`, `field_texts` (one per
    field, in form order), `destination_field` (the URL field naming where requests go, used for
    warnings and the target's description) and, where they apply, `usual_hosts`,
    `credential_param` (the query parameter carrying the credential), `path_hint` and
    `target_description` (a format string over the masked settings, default the destination).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    channel_type: ClassVar[str] = ""
    type_label: ClassVar[Text] = Text("", "")
    field_texts: ClassVar[Mapping[str, FieldText]] = {}
    # Texts of fields a base class adds for every subclass (`egress_fields`), shown last.
    shared_field_texts: ClassVar[Mapping[str, FieldText]] = {}
    destination_field: ClassVar[str] = ""
    usual_hosts: ClassVar[tuple[str, ...]] = ()
    credential_param: ClassVar[str | None] = None
    path_hint: ClassVar[PathHint | None] = None
    target_description: ClassVar[str | None] = None


def form_texts(model: type[ChannelConfig]) -> dict[str, FieldText]:
    """Every field's text in form order: the type's own, then those its base class shares."""
    return {**model.field_texts, **model.shared_field_texts}


@functools.cache
def marks(model: type[ChannelConfig]) -> Marks:
    """The marked fields of `model` (computed once per model)."""
    secrets, urls, headers = [], [], []
    for name, info in model.model_fields.items():
        for mark in info.metadata:
            if isinstance(mark, SecretValue):
                secrets.append(name)
            elif isinstance(mark, DestinationUrl):
                urls.append((name, mark))
            elif isinstance(mark, SecretHeaders):
                headers.append((name, mark))
    return Marks(tuple(secrets), tuple(urls), tuple(headers))


def contract_problems(model: type[ChannelConfig]) -> list[str]:
    """What `model` lacks to be registered (empty when nothing): a type name that fits the
    store, labels, a text for every field and no text for a missing one, and a destination
    that is a marked URL field. The registry refuses models with problems."""
    problems = []
    if not _TYPE_NAME.fullmatch(model.channel_type):
        problems.append(
            f"channel_type {model.channel_type!r} must be 1-16 lower-case letters, digits or _"
        )
    if not (model.type_label.zh and model.type_label.en):
        problems.append("type_label needs a zh and an en text")
    fields, texts = set(model.model_fields), set(form_texts(model))
    problems += [f"field {f!r} has no entry in field_texts" for f in sorted(fields - texts)]
    problems += [f"field_texts names {f!r}, which is no field" for f in sorted(texts - fields)]
    if model.destination_field not in dict(marks(model).urls):
        problems.append("destination_field must name a field marked DestinationUrl")
    return problems
