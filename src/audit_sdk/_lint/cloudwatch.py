"""Facts about Amazon CloudWatch Logs shared by the collector and Fluent Bit rules."""

from __future__ import annotations

__all__ = ["CLOUDWATCH_RETENTION_DAYS"]

# The retention periods (days) that PutRetentionPolicy accepts.
CLOUDWATCH_RETENTION_DAYS = frozenset({
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
    2557, 2922, 3288, 3653,
})
