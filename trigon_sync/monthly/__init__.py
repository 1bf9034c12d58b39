"""The monthly run: the gate (is anything due), the plan per client (pure), the step that
fetches and writes, the task writer and task identity, the review before billing, the
result and its history line.

A use case: imports ``billing``, the adapters and ``store``; never ``cli``.
"""
