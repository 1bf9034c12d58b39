"""trigon-sync: Trigon firms and monthly counts into Uku, run from cron."""

__version__ = "0.1.0"
