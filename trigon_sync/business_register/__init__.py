"""The Estonian Business Register: its open-data file format, where the file comes from, and
the index that answers "is this registration code a known company".

An adapter: imports ``store``, ``settings`` and the shared leaves; never a use case.
"""
