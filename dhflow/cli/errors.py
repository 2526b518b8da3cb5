"""The CLI's one error policy: every command handler runs under :func:`guarded`.

Exit codes: 0 ok, 1 diagnostics (or a plan the backend cannot represent), 2 usage, 3
database/launcher/scheduler trouble, 4 an internal error (a bug: please report it), 5
(``dhflow run``) the workflow finished with failed tasks, 130 interrupted.  One line on
stderr, never a traceback (``DHFLOW_DEBUG=1`` shows the traceback of an internal error).
"""
from __future__ import annotations

import os
import sys
import traceback

from dhflow.errors import (EXIT_DIAGNOSTICS, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK,  # noqa: F401 (the CLI's names)
                           EXIT_RUNTIME, EXIT_TASKS_FAILED, EXIT_USAGE)

_BACKEND_MODULES = ("balsam", "django", "psycopg2")


def err(message: str) -> None:
    """One error line on stderr."""
    print(f"dhflow: error: {message}", file=sys.stderr)


def note(message: str) -> None:
    """One note line on stderr."""
    print(f"dhflow: {message}", file=sys.stderr)


def show_diagnostics(diagnostics, source, fmt: str = "text") -> None:
    """Render diagnostics (errors and warnings) on stderr."""
    from dhflow.compiler.diagnostics import render_all

    if diagnostics:
        print(render_all(diagnostics, source, fmt), file=sys.stderr)


def guarded(handler):
    """``handler(args) -> int`` with the error policy applied."""
    def run(args) -> int:
        from dhflow.errors import CompileFailed, DhflowError

        try:
            return handler(args)
        except CompileFailed as exc:
            show_diagnostics(exc.diagnostics, exc.source)
            return exc.exit_code
        except DhflowError as exc:
            err(str(exc))
            return exc.exit_code
        except KeyboardInterrupt:
            err("interrupted")
            return EXIT_INTERRUPTED
        except BrokenPipeError:
            # the reader went away (`dhflow results ... | head`): stop quietly, as Unix tools do
            _discard_stdout()
            return EXIT_OK
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] in _BACKEND_MODULES:
                err(f"the Balsam backend is not installed ({exc.name} is missing): "
                    "pip install 'dhflow[balsam]'")
                return EXIT_RUNTIME
            return _internal(exc)
        except NotADirectoryError as exc:
            err(f"not a directory: {exc.filename}")
            return EXIT_USAGE
        except Exception as exc:  # never a traceback for the user
            if type(exc).__module__.split(".")[0] in ("django", "psycopg2", "sqlalchemy"):
                from dhflow.balsam.dberrors import translate

                translated = translate(exc)
                if translated is not None:
                    err(str(translated))
                    return translated.exit_code
            return _internal(exc)
    return run


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's final flush of what is still
    buffered cannot fail again ("Exception ignored ... BrokenPipeError", exit 120)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _internal(exc: BaseException) -> int:
    if os.environ.get("DHFLOW_DEBUG"):
        traceback.print_exc()
    first = (str(exc).strip().splitlines() or [""])[0]
    print(f"dhflow: internal error: {type(exc).__name__}: {first} (please report this; "
          "DHFLOW_DEBUG=1 shows the traceback)", file=sys.stderr)
    return EXIT_INTERNAL
