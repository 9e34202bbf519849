"""Flow parameters for the peer implementations, read from a cartlift flow TOML.

Mirrors what cartlift resolves from the same file (src/config.rs,
src/duration.rs, src/assign.rs), so the peers never hard-code the sample
flow's numbers.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass

MICROS = 1_000_000
BUCKETS = 10_000
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}

# The canonical event vocabulary. The code is cartlift's tie-break order for
# events sharing a timestamp (src/schema.rs, EventKind): cart activity before
# the order it led to, the order before its refund, a send before its
# engagement.
EVENT_CODES = {
    "cart_updated": 0,
    "checkout_started": 1,
    "order_completed": 2,
    "order_refunded": 3,
    "order_cancelled": 4,
    "message_sent": 5,
    "message_suppressed": 6,
    "message_delivered": 7,
    "message_bounced": 8,
    "message_opened": 9,
    "message_clicked": 10,
    "unsubscribed": 11,
    "spam_complaint": 12,
}
CART_UPDATED, CHECKOUT_STARTED, ORDER_COMPLETED, ORDER_REFUNDED, ORDER_CANCELLED = range(5)


def span_micros(text: str) -> int:
    """`45m`, `24h`, `7d`, `1d12h` ... in microseconds (as Span::parse)."""
    text = text.strip()
    parts = re.fullmatch(r"(?:\d+[smhdw])+", text)
    if not parts:
        raise ValueError(f"bad duration {text!r}; expected e.g. 45m, 24h or 7d")
    seconds = sum(int(n) * _UNITS[u] for n, u in re.findall(r"(\d+)([smhdw])", text))
    return seconds * MICROS


@dataclass(frozen=True)
class Arm:
    name: str
    upper: int  # exclusive upper bucket bound
    holdout: bool


@dataclass(frozen=True)
class FlowParams:
    trigger: str
    abandon_after: int  # microseconds
    cooldown: int
    window: int
    salt: str
    arms: tuple[Arm, ...]

    @property
    def opener_codes(self) -> tuple[int, ...]:
        """Event codes that open a candidate (both kinds extend one)."""
        if self.trigger == "cart_updated":
            return (CART_UPDATED, CHECKOUT_STARTED)
        return (CHECKOUT_STARTED,)


def load(path: str) -> FlowParams:
    with open(path, "rb") as f:
        cfg = tomllib.load(f)
    flow = cfg["flow"]
    trigger = flow["trigger"]
    if trigger not in ("checkout_started", "cart_updated"):
        raise ValueError(f"unknown trigger {trigger!r}")
    arms = []
    cumulative = 0.0
    for i, arm in enumerate(cfg["arms"]):
        cumulative += float(arm["weight"])
        if i + 1 == len(cfg["arms"]):
            upper = BUCKETS
        else:
            # Rust's f64::round rounds half away from zero (weights are >= 0).
            upper = min(int(math.floor(cumulative * BUCKETS + 0.5)), BUCKETS)
        arms.append(Arm(arm["name"], upper, bool(arm.get("holdout", False))))
    return FlowParams(
        trigger=trigger,
        abandon_after=span_micros(flow["abandon_after"]),
        cooldown=span_micros(flow["reentry_cooldown"]),
        window=span_micros(flow["attribution_window"]),
        salt=cfg["assignment"]["salt"],
        arms=tuple(arms),
    )
