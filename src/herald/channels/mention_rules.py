"""Mentions on chosen events: which events ring whom, per channel.

A channel's `mentions` setting is a list of rules such as
`{"events": ["task_failed"], "users": ["U024BE7LH"], "all": false}`. A rule applies to the
events it names (any type in `EVENT_TYPES`, or "digest" for a summary of several); the
mentions of every rule that applies are merged. Which kinds a platform can mention (users,
groups or roles, mobile numbers, everyone) differs, so each channel states the kinds it
accepts and what they mean there (`kinds`), and a rule using another kind is refused with a
message naming the ones that work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo

from herald.channels.fields import MAX_MENTIONS, MentionId, field_error
from herald.domain.events import EVENT_TYPES
from herald.domain.messages import DIGEST

MAX_RULES = 20
ALL_KINDS = ("users", "groups", "mobiles", "all")


def _event_name(value: str) -> str:
    if value not in (*EVENT_TYPES, DIGEST):
        names = ", ".join((*EVENT_TYPES, DIGEST))
        raise field_error("mention_event", f"{value!r} is not an event type; use one of {names}")
    return value


EventName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_event_name)]


class MentionRule(BaseModel):
    """Whom to mention when one of `events` is notified."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    events: list[EventName] = Field(min_length=1, max_length=len(EVENT_TYPES) + 1)
    users: list[MentionId] = Field(default_factory=list, max_length=MAX_MENTIONS)
    groups: list[MentionId] = Field(default_factory=list, max_length=MAX_MENTIONS)
    mobiles: list[MentionId] = Field(default_factory=list, max_length=MAX_MENTIONS)
    all: bool = False


@dataclass(frozen=True)
class Mentions:
    """The merged mentions for one event, each list without repeats, in rule order."""

    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    mobiles: tuple[str, ...] = ()
    all: bool = False

    def __bool__(self) -> bool:
        return bool(self.users or self.groups or self.mobiles or self.all)


def mentions_for(rules: Sequence[MentionRule], event_type: str) -> Mentions:
    """What the rules applying to `event_type` mention together."""
    chosen = [rule for rule in rules if event_type in rule.events]

    def merged(kind: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v for rule in chosen for v in getattr(rule, kind)))

    return Mentions(
        users=merged("users"),
        groups=merged("groups"),
        mobiles=merged("mobiles"),
        all=any(rule.all for rule in chosen),
    )


def merged(first: Mentions, second: Mentions) -> Mentions:
    """Both sets of mentions, without repeats, `first`'s entries first."""

    def join(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*a, *b)))

    return Mentions(
        users=join(first.users, second.users),
        groups=join(first.groups, second.groups),
        mobiles=join(first.mobiles, second.mobiles),
        all=first.all or second.all,
    )


def kinds(accepted: Mapping[str, str]) -> AfterValidator:
    """Refuse rules that use a kind the platform cannot mention. `accepted` maps each kind
    the channel supports to what it means there, e.g. {"users": "member ids (U…)"}."""

    def check(rules: list[MentionRule], info: ValidationInfo) -> list[MentionRule]:
        for position, rule in enumerate(rules):
            for kind in ALL_KINDS:
                if kind not in accepted and _uses(rule, kind):
                    usable = "; ".join(f"{k}: {what}" for k, what in accepted.items())
                    raise field_error(
                        "mention_kind",
                        f"rule {position + 1}: this channel cannot mention {kind}; "
                        f"it accepts {usable}",
                    )
        return rules

    return AfterValidator(check)


def _uses(rule: MentionRule, kind: str) -> bool:
    value: Any = getattr(rule, kind)
    return bool(value)


def mention_rules() -> Any:
    """The `mentions` field: no rules by default, at most MAX_RULES."""
    return Field(default_factory=list, max_length=MAX_RULES)
