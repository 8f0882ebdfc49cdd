"""Shared test configuration: hypothesis profiles and the gpu marker.

Hypothesis profiles: `ci` (default; the whole suite stays under 10 minutes on 2 cores) and
`thorough` (many more examples). Choose with HYPOTHESIS_PROFILE=thorough.
"""
import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=15, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
