"""The one way trigon-sync talks HTTP: the client factory and retries (``session``), the
rate pacer, answer limits, request statistics, the clock-skew check on ``Date`` headers,
and the announcements of every deliberate wait (``waits``).

Below the API clients and above ``store``; imports only the shared leaves.
"""
