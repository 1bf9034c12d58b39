"""When import days fall and which days each one counts: the schedule rules, the one
timeline every view asks, and moving the counting marker.

Pure: every function takes ``today``; imports only the shared leaves, ``settings`` and
``records``.
"""
