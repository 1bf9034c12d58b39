"""The one answer to "what is open, what is due, what comes next" (``due``), and moving the
counting marker without losing or doubling a day (``marker``).

Pure: every function takes ``today``. It joins the schedule rules, the settings and the
periods recorded in state, so it sits above ``schedule``, ``settings`` and ``records`` and
imports nothing that does I/O.
"""
