"""Shared pytest configuration: hypothesis profiles.

``HYPOTHESIS_PROFILE=ci`` (the default) is derandomized and moderate, so CI runs are reproducible
and fast; ``HYPOTHESIS_PROFILE=dev`` draws many more (random) examples for local bug hunting:

    HYPOTHESIS_PROFILE=dev python -m pytest tests/ops
"""

import os

from hypothesis import HealthCheck, settings

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=25,
    database=None,
    print_blob=True,
    suppress_health_check=_SLOW_OK,
)
settings.register_profile(
    "dev",
    deadline=None,
    max_examples=100,
    print_blob=True,
    suppress_health_check=_SLOW_OK,
)

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)


def pytest_report_header(config):
    s = settings.default
    return (
        f"hypothesis profile: {PROFILE} (max_examples={s.max_examples}, "
        f"derandomize={s.derandomize})"
    )
