"""The typed records state.toml holds: run history, the open and finished periods, the staged
import. Pure: dataclasses in and out, read and written by ``store``.
"""
