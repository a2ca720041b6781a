"""Table definitions (persistence only; domain objects are mapped in the repository modules)."""

from __future__ import annotations

import sqlalchemy as sa

from herald.store.column_types import JSONType, UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = sa.MetaData(naming_convention=NAMING)

ID = sa.String(36)


def _id() -> sa.Column[str]:
    return sa.Column("id", ID, primary_key=True)


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, UTCDateTime(), nullable=nullable)


projects = sa.Table(
    "projects",
    metadata,
    _id(),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    _ts("created_at"),
    _ts("updated_at"),
    # The environments the project's tasks may use; [] means any.
    sa.Column("environments", JSONType, nullable=False, server_default="[]"),
    # {name: value}: what organisation rules select projects by.
    sa.Column("labels", JSONType, nullable=False, server_default="{}"),
)

versions = sa.Table(
    "versions",
    metadata,
    _id(),
    sa.Column("project_id", ID, sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    _ts("created_at"),
    sa.UniqueConstraint("project_id", "name"),
)

tasks = sa.Table(
    "tasks",
    metadata,
    _id(),
    sa.Column("project_id", ID, sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("version_id", ID, sa.ForeignKey("versions.id"), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("strategy", sa.String(16), nullable=False),
    sa.Column("environment", sa.String(64), nullable=False),
    sa.Column("canary_count", sa.Integer, nullable=False),
    sa.Column("batch_size", sa.Integer, nullable=False),
    sa.Column("max_failed", sa.Integer, nullable=False),
    sa.Column("executor", JSONType, nullable=False),
    sa.Column("driver", sa.String(16), nullable=False),
    sa.Column("auto_promote_after", sa.Float, nullable=True),
    sa.Column("long_running_after", sa.Float, nullable=True),
    sa.Column("rollback_of", ID, nullable=True),
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("phase", sa.String(16), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    _ts("created_at"),
    _ts("started_at", True),
    _ts("finished_at", True),
    _ts("awaiting_since", True),
    _ts("next_timer_at", True),
    sa.Column("revision", sa.Integer, nullable=False, server_default="0"),
    sa.Column("engine_owner", sa.String(64), nullable=True),
    _ts("engine_lease_until", True),
    # A multi-step canary's steps, [{"weight", "hosts"}, …]; NULL for every other task.
    sa.Column("canary_steps", JSONType, nullable=True),
    sa.Column("context", JSONType, nullable=False, server_default="{}"),  # the ReleaseContext
    sa.Column("run_id", sa.String(128), nullable=True),  # an external run; NULLs never clash
    sa.UniqueConstraint("project_id", "run_id"),
    sa.Index(None, "project_id", "created_at"),
    sa.Index(None, "status"),
    sa.Index(None, "next_timer_at"),
    sa.Index(None, "driver", "status"),
)

task_hosts = sa.Table(
    "task_hosts",
    metadata,
    sa.Column("task_id", ID, sa.ForeignKey("tasks.id"), primary_key=True),
    sa.Column("host", sa.String(253), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("exit_code", sa.Integer, nullable=True),
    sa.Column("output", sa.Text, nullable=False, server_default=""),
    _ts("started_at", True),
    _ts("finished_at", True),
)

events = sa.Table(
    "events",
    metadata,
    _id(),
    sa.Column("task_id", ID, sa.ForeignKey("tasks.id"), nullable=False),
    sa.Column("project_id", ID, nullable=False),
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("payload", JSONType, nullable=False),
    sa.Column("context", JSONType, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False, server_default="0"),  # ordinal within the task
    # Which occurrence of its type: a canary_step's step index, 0 for types that happen once.
    sa.Column("occurrence", sa.Integer, nullable=False, server_default="0"),
    _ts("created_at"),
    _ts("fanned_out_at", True),
    sa.UniqueConstraint("task_id", "event_type", "occurrence"),
    sa.Index(
        "ix_events_unfanned",
        "created_at",
        postgresql_where=sa.text("fanned_out_at IS NULL"),
        sqlite_where=sa.text("fanned_out_at IS NULL"),
    ),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    _id(),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("projects", JSONType, nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("created_by", ID, nullable=True),
    _ts("created_at"),
    _ts("revoked_at", True),
    _ts("last_used_at", True),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    _id(),
    _ts("at"),
    sa.Column("actor_id", ID, nullable=True),
    sa.Column("actor_name", sa.String(100), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("resource_type", sa.String(32), nullable=False),
    sa.Column("resource_id", ID, nullable=False),
    sa.Column("project_id", ID, nullable=True),
    sa.Column("before", JSONType, nullable=True),
    sa.Column("after", JSONType, nullable=True),
    sa.Index(None, "project_id", "at"),
    sa.Index(None, "resource_id"),
)

callback_configs = sa.Table(
    "callback_configs",
    metadata,
    _id(),
    # NULL: an organisation rule, reaching every project its `project_labels` select.
    sa.Column("project_id", ID, sa.ForeignKey("projects.id"), nullable=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("events", JSONType, nullable=False),
    sa.Column("filters", JSONType, nullable=False),
    sa.Column("locale", sa.String(8), nullable=False),
    sa.Column("templates", JSONType, nullable=True),
    _ts("created_at"),
    _ts("updated_at"),
    sa.Column("project_labels", JSONType, nullable=True),  # organisation rules: {name: value}
    sa.Index(None, "project_id"),
)

destinations = sa.Table(
    "destinations",
    metadata,
    _id(),
    sa.Column("project_id", ID, sa.ForeignKey("projects.id"), nullable=True),  # NULL: organisation
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("secret_config", sa.Text, nullable=False),  # Fernet token, as callback_channels
    sa.Column("target_key", sa.String(64), nullable=False),
    sa.Column("rate_limit", JSONType, nullable=True),
    sa.Column("policy", JSONType, nullable=True),
    _ts("created_at"),
    _ts("updated_at"),
    sa.Index(None, "project_id"),
)

callback_channels = sa.Table(
    "callback_channels",
    metadata,
    _id(),
    sa.Column("config_id", ID, sa.ForeignKey("callback_configs.id"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("secret_config", sa.Text, nullable=False),  # Fernet token of the channel's config
    sa.Column("target_key", sa.String(64), nullable=False),
    sa.Column("rate_limit", JSONType, nullable=True),
    sa.Column("policy", JSONType, nullable=True),  # custom: retries, interval, timeout
    sa.Column("templates", JSONType, nullable=True),
    _ts("created_at"),
    _ts("updated_at"),
    # Set: the settings, target, rate limit and policy are the destination's (secret_config "").
    sa.Column("destination_id", ID, sa.ForeignKey("destinations.id"), nullable=True),
    sa.Index(None, "config_id"),
    sa.Index(None, "destination_id"),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    _id(),  # also the `webhook-id` receivers deduplicate on
    sa.Column("kind", sa.String(8), nullable=False),  # event | digest | test
    sa.Column("event_id", ID, nullable=True),
    sa.Column("config_id", ID, nullable=False),
    sa.Column("channel_id", ID, nullable=False),
    sa.Column("project_id", ID, nullable=False),
    sa.Column("task_id", ID, nullable=True),
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("channel_type", sa.String(16), nullable=False),
    sa.Column("target_key", sa.String(64), nullable=False),
    # pending | success | failed | muted | dropped
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("trigger", sa.String(10), nullable=False, server_default="scheduled"),
    _ts("next_attempt_at"),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    _ts("lease_until", True),
    sa.Column("claim_token", sa.String(36), nullable=True),
    sa.Column("last_outcome", sa.String(16), nullable=True),
    sa.Column("last_code", sa.String(32), nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("digest_id", ID, nullable=True),
    sa.Column("digest_size", sa.Integer, nullable=True),
    sa.Column("payload", JSONType, nullable=True),  # test deliveries: the sample event
    # The event's ordinal within its task; NULL for digests, tests and unordered channels.
    sa.Column("seq", sa.Integer, nullable=True),
    # The mute window that held it (kept after release: a delivery is held at most once).
    sa.Column("mute_id", ID, nullable=True),
    _ts("created_at"),
    _ts("updated_at"),
    _ts("finished_at", True),
    sa.UniqueConstraint("event_id", "channel_id"),
    sa.Index(None, "status", "next_attempt_at"),
    sa.Index(None, "target_key", "status"),
    sa.Index(None, "task_id"),
    sa.Index(None, "config_id", "id"),
    sa.Index(None, "project_id", "id"),
    sa.Index(None, "digest_id"),
    # A destination gets one task's deliveries in event order: is an earlier one still pending?
    sa.Index(
        "ix_deliveries_order",
        "target_key",
        "task_id",
        "seq",
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    ),
    # Requests in flight per target (leases), counted on every claim.
    sa.Index(
        "ix_deliveries_leased",
        "target_key",
        postgresql_where=sa.text("lease_owner IS NOT NULL"),
        sqlite_where=sa.text("lease_owner IS NOT NULL"),
    ),
    sa.Index(None, "mute_id"),
    sa.Index(
        "ix_deliveries_failed_task",
        "task_id",
        postgresql_where=sa.text("status = 'failed'"),
        sqlite_where=sa.text("status = 'failed'"),
    ),
    # History retention prunes the oldest finished deliveries first.
    sa.Index("ix_deliveries_finished_at", "finished_at"),
)

delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    _id(),
    sa.Column("delivery_id", ID, sa.ForeignKey("deliveries.id"), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("trigger", sa.String(10), nullable=False),  # scheduled | manual | test
    sa.Column("project_id", ID, nullable=False),
    sa.Column("task_id", ID, nullable=True),
    sa.Column("config_id", ID, nullable=False),
    sa.Column("channel_id", ID, nullable=False),
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("channel_type", sa.String(16), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("request", JSONType, nullable=False),
    sa.Column("response_status", sa.Integer, nullable=True),
    sa.Column("response_body", sa.Text, nullable=True),
    sa.Column("platform_code", sa.String(32), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("note", sa.Text, nullable=True),  # e.g. sent after an earlier event failed for good
    _ts("created_at"),
    sa.Index(None, "delivery_id", "attempt"),
    sa.Index(None, "created_at"),
)

targets = sa.Table(
    "targets",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),  # keyed fingerprint of the credential
    sa.Column("channel_type", sa.String(16), nullable=False),
    sa.Column("description", sa.Text, nullable=False),  # masked, for people
    sa.Column("sends", JSONType, nullable=False),  # recent send times (Unix s), newest last
    sa.Column("penalty_until", sa.Float, nullable=True),
    sa.Column("circuit", sa.String(10), nullable=False, server_default="closed"),
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("cooldown", sa.Float, nullable=False, server_default="0"),
    sa.Column("probe_at", sa.Float, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    _ts("updated_at"),
)

wecom_tokens = sa.Table(
    "wecom_tokens",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("secret_token", sa.Text, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    _ts("updated_at"),
)

# External events applied to a task (`POST /events`), one row per (task, event[:step]): a retry
# finds its row and is answered as a duplicate instead of acting twice.
external_events = sa.Table(
    "external_events",
    metadata,
    sa.Column("task_id", ID, sa.ForeignKey("tasks.id"), primary_key=True),
    sa.Column("event_key", sa.String(48), primary_key=True),
    sa.Column("event_id", ID, nullable=True),  # the Herald event it emitted, if any
    sa.Column("event_type", sa.String(32), nullable=False),
    _ts("created_at"),
)

# Idempotency-Key reservations and the first answer they replay (herald.store.idempotency_repo).
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("scope", sa.String(64), primary_key=True),  # hash of (token, key)
    sa.Column("request_hash", sa.String(64), nullable=False),  # method, path, canonical body
    sa.Column("state", sa.String(8), nullable=False),  # pending | done
    sa.Column("response_status", sa.Integer, nullable=True),
    sa.Column("response_body", sa.Text, nullable=True),
    _ts("lease_until"),  # a pending reservation older than this was abandoned (a crash)
    _ts("created_at"),
    _ts("expires_at"),
    sa.Index(None, "expires_at"),
)

# Inbound webhooks from CD systems (GitHub, GitLab, Flux, Argo): one row per source, its secret
# encrypted by herald.inbound; every request received for a source is logged in
# inbound_deliveries (never the secret, never the body).
inbound_sources = sa.Table(
    "inbound_sources",
    metadata,
    _id(),
    sa.Column("project_id", ID, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(100), nullable=True),
    _ts("created_at"),
    sa.UniqueConstraint("project_id", "name"),
)

inbound_deliveries = sa.Table(
    "inbound_deliveries",
    metadata,
    _id(),
    sa.Column(
        "source_id", ID, sa.ForeignKey("inbound_sources.id", ondelete="CASCADE"), nullable=False
    ),
    _ts("received_at"),
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("platform_event", sa.String(64), nullable=True),
    sa.Column("delivery_key", sa.String(200), nullable=True),
    sa.Column("event_type", sa.String(32), nullable=True),
    sa.Column("run_id", sa.String(200), nullable=True),
    sa.Column("task_id", ID, nullable=True),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Index(None, "source_id", "id"),
)

# A mute window holds the deliveries of its scope (`scope` names the delivery column matched:
# project_id or config_id; destination_id once destinations exist) between its times.
mutes = sa.Table(
    "mutes",
    metadata,
    _id(),
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("scope_id", ID, nullable=False),
    sa.Column("project_id", ID, nullable=True),  # for access checks; NULL for org-wide scopes
    _ts("starts_at"),
    _ts("ends_at"),  # moved to the moment it was ended early
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(100), nullable=False),
    sa.Column("ended_by", sa.String(100), nullable=True),
    _ts("created_at"),
    sa.Index(None, "ends_at"),
    sa.Index(None, "project_id", "ends_at"),
)
