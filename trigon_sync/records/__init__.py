"""The typed records state.toml holds: run history, the open and finished periods, the staged
client import and its rows.

Pure: dataclasses in and out, read and written by ``store``; imports only ``schedule`` and
the shared leaves.
"""
