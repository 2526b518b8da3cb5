"""Balsam's serial-mode ensemble (``balsam/launcher/serial_mode_timed.py``), exact filter.

The serial launcher starts ``python <ZMQ_ENSEMBLE_EXE> ... --wf-name=NAME`` under mpirun,
and that program re-runs itself (``sys.argv``) for the master process.  The launcher
wrapper points ``ZMQ_ENSEMBLE_EXE`` here: this file applies the exact workflow filter of
:mod:`balsam_launcher` and runs Balsam's module unchanged as ``__main__``.
"""
import os
import runpy
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]
    sys.path.insert(0, HERE)
    import balsam_launcher  # noqa: E402  (this directory, by file)

    sys.path.pop(0)
    balsam_launcher.prepare_balsam()
    from dhflow.balsam.shims import fast_launcher

    if fast_launcher.enabled():  # Balsam's module with its 1 s waits made event-driven
        from dhflow.balsam.shims import fast_serial

        fast_serial.main()
    else:
        from importlib.util import find_spec

        runpy.run_path(find_spec("balsam.launcher.serial_mode_timed").origin, run_name="__main__")
