"""Inbound webhooks from CD systems: GitHub, GitLab, Flux and Argo CD / Argo Rollouts.

One module per source kind (`github`, `gitlab`, `flux`, `argo`) verifies a request exactly as
that system signs it and translates its payload into the body of an external event
(`POST /api/v1/release/events`); `inbound_service` keeps the per-project sources (secrets
encrypted), runs a request through verification, translation and the external-events service,
and logs every request received.

May import `engine`, `access`, `publishing`, `security`, `runtime`, `store` and `domain`.
"""
