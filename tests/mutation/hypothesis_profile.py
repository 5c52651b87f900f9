"""A pytest plugin (`-p tests.mutation.hypothesis_profile`) for the test runs mutmut makes.

Under mutmut every call goes through a trampoline and the first run traces coverage, so Hypothesis'
"input generation is slow" health check fires on tests that are fast otherwise. Derandomized, a
mutant meets the same examples in every run: a score does not move between two runs of one tree.
Fewer examples (25, a test's own @settings still wins): a mutant is run thousands of times, and the
examples' edge cases (Hypothesis tries the small and boundary values first) are what kill mutants.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "mutation", derandomize=True, deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("mutation")
