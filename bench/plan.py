"""How big each workload is: the full run (`make bench`, under 15 minutes on the 2-core
development VM) and the smoke check (`--quick`, seconds, no figure worth reading)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    throughput_events: int
    throughput_repeats: int
    peer_requests: int
    rates: tuple[float, ...]
    rate_seconds: dict[float, float]
    p99_runs: int  # runs at 200 events/s per store (the p99 target counts them)
    stores: tuple[tuple[str, int], ...]  # (store, workers)
    overhead_transitions: int
    isolation_seconds: float
    isolation_repeats: int
    burst_completions: int
    history_rows: int
    history_repeat: int
    pending: int
    memory_seconds: float
    overhead_stores: tuple[str, ...] = ("sqlite", "postgres")


FULL = Plan(
    throughput_events=4000,
    throughput_repeats=2,
    peer_requests=3000,
    rates=(50.0, 200.0, 1000.0),
    rate_seconds={50.0: 8.0, 200.0: 5.0, 1000.0: 3.0},
    p99_runs=5,
    stores=(("sqlite", 1), ("sqlite", 2), ("postgres", 1), ("postgres", 2)),
    overhead_transitions=150,
    isolation_seconds=8.0,
    isolation_repeats=2,
    burst_completions=500,
    history_rows=1_000_000,
    history_repeat=20,
    pending=100_000,
    memory_seconds=15.0,
)

QUICK = Plan(
    throughput_events=200,
    throughput_repeats=1,
    peer_requests=100,
    rates=(200.0,),
    rate_seconds={200.0: 1.0},
    p99_runs=1,
    stores=(("sqlite", 1),),
    overhead_transitions=10,
    isolation_seconds=1.0,
    isolation_repeats=1,
    burst_completions=20,
    history_rows=2_000,
    history_repeat=3,
    pending=500,
    memory_seconds=2.0,
    overhead_stores=("sqlite",),
)
