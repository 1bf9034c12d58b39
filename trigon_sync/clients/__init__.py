"""The client import: the plan (pure), applying it, creating and linking Uku clients,
auto-import, links and finding a firm.

Imports the adapters (``business_register``, ``trigon``, ``uku``) and ``store``; never ``cli``.
"""
