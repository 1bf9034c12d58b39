"""Who hears from the unattended nightly run: dead man's switch pings (``ping``), the
Prometheus textfile metrics (``metrics``), the record of the last ping (``last_ping``) and
the glue ``run-monthly`` calls (``nightly``).

A use case beside ``monthly``: called by the monthly run's CLI command and by ``doctor``;
imports ``http``, ``store`` and the pure model, never ``monthly``, ``health`` or ``cli``.
Nothing here may fail or slow a run: a monitor that is down is one warning line.
"""
