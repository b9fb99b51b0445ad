"""Puts the policy pack's folder on the path before the tests import `liminal_policy`."""

import delivery_paths  # noqa: F401
