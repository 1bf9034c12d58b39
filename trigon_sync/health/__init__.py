"""``status`` and ``doctor``: the check model, the local, environment and live checks.

The top use case: may import ``monthly``, ``billing``, the adapters and ``store``; never ``cli``.
"""
