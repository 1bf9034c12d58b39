"""Imported only by the kill tests' fork server (tests/kill_points.py): warms it, so that
each command forked from it finds the product and what its commands load imported."""

from tests.kill_points import warm

warm()
