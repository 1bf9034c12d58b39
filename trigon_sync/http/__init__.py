"""The one way trigon-sync talks HTTP: the client factory and retries, the rate pacer,
answer limits, request statistics and the clock-skew check on ``Date`` headers.

Imports only the shared leaves and ``records``.
"""
