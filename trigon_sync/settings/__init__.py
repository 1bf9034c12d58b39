"""The settings: the typed model of config.toml (``config``), the checks that build it from a
parsed document (``checks``), the catalogue of Trigon counts (``fields``) and how an Uku
name the admin wrote is matched (``naming``).

Pure: reading and editing the file is ``store/config_file.py``; imports only ``schedule``
and the shared leaves.
"""
