"""The Estonian Business Register: its open-data file format, where the file comes from, and
the index that answers "is this registration code a known company".

An adapter: imports ``store``, ``http`` is not needed; never the use cases or ``cli``.
"""
