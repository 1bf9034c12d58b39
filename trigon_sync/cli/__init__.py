"""The command-line shell: parses options, calls domain code, renders results.

Only this package prints. ``app.py`` assembles the command groups, ``boundary.py`` turns
exceptions into one stderr line and an exit code, ``output.py`` holds the shared consoles.
The top layer: it may import every other package; none imports it.
"""
