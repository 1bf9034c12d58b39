"""When import days fall and which days each one counts: the schedule rules (``rules``).

Pure and at the bottom: every function takes ``today``; imports only the shared leaves.
"""
