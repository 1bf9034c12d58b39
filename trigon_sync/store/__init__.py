"""Where trigon-sync keeps what it remembers, and how it writes it safely.

Everything that touches the home directory lives here: where files are (``paths``), how
they are replaced without a torn write (``atomic``), the one lock, config.toml on disk
(``config_file``), the state and its journal, the billing ledger, the secrets and the
keyring backend, the installation id and the rules for a shared home. It imports only the
pure model (``timeline``, ``records``, ``settings``, ``schedule``) and the shared leaves,
never a rule of a use case, so the code reads as "decide" and "remember" apart.
"""
