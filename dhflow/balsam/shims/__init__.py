"""Small programs dhflow runs in place of, or around, parts of the Balsam toolchain.

* ``bin/mpirun``: a POSIX-sh stand-in for ``mpirun`` on machines without MPI (see its header).
* ``balsam_launcher.py``: Balsam's real launcher with an exact workflow filter.
* ``balsam_serial.py``: Balsam's serial-mode ensemble runner with the same exact filter.
* ``fast_launcher.py``, ``fast_serial.py``: Balsam's waits in those two made event-driven;
  ``pg_wakeup.py``: the LISTEN/NOTIFY and signal wake-ups they (and ``dhflow run``) wait on.
* ``pbs_scheduler.py``: a PBS scheduler class for Balsam's submit-launch machinery.
* ``stage_in.py``: Balsam's stage-in with dhflow's names for gathered files (``result.train.3.json``);
  ``rank_labels.py``: MPICH labels a multi-rank task's output lines with their rank.

The two wrappers are run as scripts by path (Balsam builds their command lines), so they
must not import anything that is not importable from a plain ``python script.py``.
"""
