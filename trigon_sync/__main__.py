"""``python -m trigon_sync`` runs the same CLI as the ``trigon-sync`` script."""

from trigon_sync.cli.app import main

main()
