"""The command line: argparse and rendering only; nothing imports this package.

``main`` builds the parser, ``compile_commands`` and ``runtime_commands`` hold the handlers
(each a few lines over a use case of :mod:`dhflow.runtime`), ``render`` prints result
objects and ``errors`` is the one error policy (exit codes).
"""
