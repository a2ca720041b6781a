"""The event publisher: which callback configs an event reaches, and what each
channel's message says (subscriptions and their configuration, templates in their sandbox,
previews).

May import `domain`, `store`, `runtime`, `security`, `channels` and `access`.
"""
