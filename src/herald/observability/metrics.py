"""Prometheus metrics. Counters and histograms are updated by the worker as it goes; queue depth,
oldest pending age and circuit states are read from the store when scraped, so every process
reports the shared truth."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from herald.store import gauges
from herald.store.db import Database

CIRCUIT_VALUE = {"closed": 0, "half_open": 1, "open": 2}


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.attempts = Counter(
            "herald_delivery_attempts_total",
            "Delivery attempts by channel, event and outcome",
            ["channel", "event", "outcome"],
            registry=self.registry,
        )
        self.deliveries = Counter(
            "herald_deliveries_total",
            "Deliveries that reached a final state, by channel, event and status",
            ["channel", "event", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "herald_attempt_latency_seconds",
            "HTTP round trip of delivery attempts",
            ["channel"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.end_to_end = Histogram(
            "herald_end_to_end_seconds",
            "From event committed to its first attempt's answer",
            ["channel"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=self.registry,
        )
        self.rate_limit_waits = Counter(
            "herald_rate_limit_waits_total",
            "Deliveries held back to respect a target's rate limit or penalty",
            registry=self.registry,
        )
        self.digested = Counter(
            "herald_digest_merged_total",
            "Deliveries merged into digest messages",
            registry=self.registry,
        )

    def watch_store(self, db: Database) -> None:
        self.registry.register(StoreCollector(db))


class StoreCollector(Collector):
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily("herald_queue_depth", "Pending deliveries", labels=["channel"])
        oldest = GaugeMetricFamily(
            "herald_oldest_pending_age_seconds", "Age of the oldest pending delivery"
        )
        circuits = GaugeMetricFamily(
            "herald_circuit_state",
            "Circuit state per target: 0 closed, 1 half-open, 2 open",
            labels=["target", "channel"],
        )
        with self.db.read() as conn:
            queues = gauges.queue_depths(conn)
            states = gauges.circuits(conn)
        first = None
        for queue in queues:
            depth.add_metric([queue.channel_type], queue.pending)
            created = queue.oldest_created_at
            if created is not None:
                stamp = created.timestamp() if hasattr(created, "timestamp") else None
                first = stamp if first is None or (stamp and stamp < first) else first
        oldest.add_metric([], max(time.time() - first, 0.0) if first else 0.0)
        for gauge in states:
            circuits.add_metric(
                [gauge.target_key[:12], gauge.channel_type], CIRCUIT_VALUE.get(gauge.circuit, 0)
            )
        yield depth
        yield oldest
        yield circuits
