"""Test-wide settings: Hypothesis without wall-clock health checks, since CI machines are shared and noisy.

Speed is measured by benchmarks/, never by tests; a test fails on what it computes, not on how long it took.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "kubespec",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("kubespec")
