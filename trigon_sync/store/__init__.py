"""Where trigon-sync keeps what it remembers, and how it writes it safely.

Everything that touches the home directory lives here: where files are (``paths``), how
they are replaced without a torn write (``atomic``), the one lock, the state and its
journal, the billing ledger, the secrets and the keyring backend, the installation id and
the rules for a shared home. The pure planning modules never import this package (the
import-linter contract in pyproject.toml says so), so the rest of the code can be read
as "decide" and "remember" apart.
"""
