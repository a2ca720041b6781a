"""Channel senders: render an event for Feishu, DingTalk, WeCom or a custom endpoint, and judge
the platform's answer into an outcome. Senders do no I/O; the delivery engine sends what they
render. One module per platform (settings model, sender, judge, code tables) and one line in
`registry`; `channel_config` validates settings by type name, `credentials` masks and redacts.

Imports `herald.domain` and `herald.security` (redaction, signing, host forms) only.
"""
