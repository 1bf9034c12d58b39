"""The settings: the typed model of config.toml, its checks, the field catalogue, the
mapping onto Uku fields and how Uku names are matched.

Pure apart from reading config.toml (``config.load``); imports only the shared leaves and
``schedule``.
"""
