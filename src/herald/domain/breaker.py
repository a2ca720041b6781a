"""Circuit breaking per target: a target failing persistently is paused and probed, not hammered.

Only transient failures count (network errors, timeouts, 5xx): a permanent failure such as a bad
signature is a configuration problem of one message, not a sick endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

OPEN_AFTER = 5  # consecutive transient failures
FIRST_COOLDOWN = 30.0
MAX_COOLDOWN = 600.0


@dataclass(frozen=True)
class Circuit:
    state: str = "closed"  # closed | open | half_open
    failures: int = 0
    cooldown: float = 0.0
    probe_at: float | None = None

    def admits(self, now: float) -> bool:
        """May a delivery be sent now?

        An open circuit admits one probe once cooled down; while the probe is out (half-open)
        nothing else goes, unless the probe's worker vanished and its deadline passed.
        """
        if self.state == "closed":
            return True
        return self.probe_at is not None and now >= self.probe_at

    def on_probe_sent(self, now: float, deadline: float) -> Circuit:
        if self.state == "closed":
            return self
        return replace(self, state="half_open", probe_at=now + deadline)

    def on_success(self) -> Circuit:
        return Circuit()

    def on_transient_failure(self, now: float) -> Circuit:
        failures = self.failures + 1
        if self.state == "half_open":
            cooldown = min(max(self.cooldown * 2, FIRST_COOLDOWN), MAX_COOLDOWN)
            return Circuit("open", failures, cooldown, now + cooldown)
        if self.state == "closed" and failures >= OPEN_AFTER:
            return Circuit("open", failures, FIRST_COOLDOWN, now + FIRST_COOLDOWN)
        return replace(self, failures=failures)
