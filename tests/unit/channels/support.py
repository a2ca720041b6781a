"""A fixed sample release and channel settings shared by the channel tests."""

from __future__ import annotations

from typing import Any

from herald.channels.base import EventView
from herald.channels.channel_config import ChannelConfig, parse_channel_config
from herald.domain.events import EVENT_TYPES, EventContext, EventPayload
from herald.domain.messages import build_message

NOW = 1_767_729_600.0  # 2026-01-06T20:00:00Z
TIMESTAMP = "2026-01-06T20:00:00Z"
TASK_URL = "https://herald.example.com/ui/tasks/task-42"
HOSTS = [f"web-{i:02d}.pay.prod.internal" for i in range(1, 11)]
CANARY = HOSTS[:2]

# event type -> (completed, failed, status, canary event?, reason, failed hosts)
STAGES: dict[str, tuple[int, int, str, bool, str | None, list[str]]] = {
    "canary_started": (0, 0, "running", True, None, []),
    "canary_completed": (2, 0, "awaiting_promotion", True, None, []),
    "full_completed": (10, 0, "success", False, None, []),
    "task_failed": (
        6,
        2,
        "failed",
        False,
        "2 host(s) failed, more than the 1 tolerated",
        HOSTS[6:8],
    ),
    "task_stopped": (4, 0, "stopped", False, "值班同学手动停止：监控发现错误率升高", []),
    "long_running": (4, 0, "running", False, None, []),
    "canary_step": (1, 0, "running", True, None, []),
    "rollout_started": (0, 0, "running", False, None, []),
    "rollback_started": (0, 0, "running", False, None, []),
    "rollback_completed": (10, 0, "success", False, None, []),
}
# The events beyond the PRD belong to other release shapes: (task type, strategy, step).
SHAPES: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "canary_step": ("deploy", "canary", {"index": 1, "total": 3, "weight": 10, "hosts": 1}),
    "rollout_started": ("deploy", "rolling", None),
    "rollback_started": ("rollback", "rolling", None),
    "rollback_completed": ("rollback", "rolling", None),
}

SECRETS = {
    "feishu": "feishu-sign-secret-0123",
    "dingtalk": "SECb90923e19e58b466481e9e7b7a5b4f108a4531abde590ad3967fb29f0eae5c68",
    "wechat": "wecom-app-secret-0123456789abcdef",
    "custom": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}

RAW_CONFIGS: dict[str, dict[str, Any]] = {
    "feishu": {
        "webhook_url": "https://open.feishu.cn/open-apis/bot/v2/hook/0123456789abcdef-fs-token",
        "sign_secret": SECRETS["feishu"],
    },
    "dingtalk": {
        "webhook_url": "https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef0123456789abcdef",
        "sign_secret": SECRETS["dingtalk"],
    },
    "wechat": {"corp_id": "ww0123456789abcdef", "agent_id": 1000002, "secret": SECRETS["wechat"]},
    "wecom_bot": {
        "webhook_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=0123456789abcdef-bot-key"
    },
    "custom": {
        "url": "https://ci.example.com/herald/hook?token=endpoint-token-0123",
        "headers": {"Authorization": "Bearer ci-token-0123456789", "X-Team": "payments"},
        "signing_secret": SECRETS["custom"],
    },
}
CHANNEL_TYPES = tuple(RAW_CONFIGS)
CHAT_TYPES = tuple(t for t in CHANNEL_TYPES if t != "custom")
ACCESS_TOKEN = "wecom-access-token-0123456789"


def config(channel_type: str, **changes: Any) -> ChannelConfig:
    return parse_channel_config(channel_type, {**RAW_CONFIGS[channel_type], **changes})


def sample(
    event_type: str,
    *,
    hosts: list[str] | None = None,
    failed_hosts: list[str] | None = None,
    reason: str | None = None,
) -> tuple[EventPayload, EventContext]:
    """The standard message of a 10-host canary release of payments-api at `event_type`."""
    completed, failed, status, canary, default_reason, default_failed = STAGES[event_type]
    payload: EventPayload = {
        "event_type": event_type,
        "project": {"id": "proj-7", "name": "payments-api", "description": "支付网关"},
        "version": {"id": "ver-3", "name": "v1.2.3", "description": "修复退款重复提交"},
        "task": {"id": "task-42", "type": "deploy", "strategy": "canary", "status": status},
        "deployment": {
            "total_count": len(hosts) if hosts else len(HOSTS),
            "canary_count": len(CANARY),
            "completed_count": completed,
            "failed_count": failed,
            "hosts": hosts if hosts is not None else (CANARY if canary else list(HOSTS)),
        },
        "timestamp": TIMESTAMP,
        "duration": "2m30s",
        "environment": "production",
        "sequence": 1 + EVENT_TYPES.index(event_type),
    }
    if event_type in SHAPES:
        kind, strategy, step = SHAPES[event_type]
        payload["task"]["type"], payload["task"]["strategy"] = kind, strategy
        if strategy != "canary":
            del payload["deployment"]["canary_count"]
        if step is not None:
            payload["deployment"]["hosts"] = CANARY[:1]
            payload["step"] = {"index": 1, "total": 3, "weight": 10, "hosts": 1}
    context: EventContext = {
        "event_id": f"evt-{event_type}",
        "phase": "canary" if canary else "full",
        "failed_hosts": failed_hosts if failed_hosts is not None else default_failed,
        "reason": reason if reason is not None else default_reason,
    }
    return payload, context


def view(event_type: str, *, locale: str = "zh", **overrides: Any) -> EventView:
    payload, context = sample(event_type, **overrides)
    message = build_message(payload, context, locale=locale, link=TASK_URL)
    return EventView(f"dlv-{event_type}", payload, context, message)


def all_views(locale: str = "zh", types: tuple[str, ...] = EVENT_TYPES) -> list[EventView]:
    return [view(event_type, locale=locale) for event_type in types]
