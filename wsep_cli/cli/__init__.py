"""The ``wsep`` command line. ``app.py`` holds the Typer app; nothing in the library imports from here.

Kept empty so that importing :mod:`wsep_cli.cli.launch` (the console script) loads nothing before
:func:`wsep_cli.cli.startup.begin` has paused the garbage collector.
"""
