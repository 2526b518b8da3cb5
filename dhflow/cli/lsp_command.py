"""`dhflow lsp`: start the language server on stdin/stdout."""
from __future__ import annotations

import sys

from dhflow.errors import EXIT_OK, EXIT_USAGE


def register(subparsers) -> None:
    """Add the `lsp` subcommand to the dhflow argument parser."""
    c = subparsers.add_parser("lsp", help="run the language server on stdin/stdout (for editors)",
                              description="Run the dhflow language server over stdin/stdout; editors start it.")
    c.add_argument("--stdio", action="store_true", help="talk over stdin/stdout (the default and only mode)")
    c.set_defaults(func=run)


def run(args) -> int:
    """Serve until the editor sends shutdown and exit."""
    try:
        from dhflow.lsp.server import serve_stdio
    except ImportError as exc:  # pygls is an optional extra
        if (exc.name or "").split(".")[0] not in ("pygls", "lsprotocol"):
            raise  # a bug of ours, not a missing extra
        print(f"dhflow: the language server needs pygls ({exc.name or exc} is missing); "
              "install it with: pip install 'dhflow[lsp]'", file=sys.stderr)
        return EXIT_USAGE
    serve_stdio()
    return EXIT_OK
