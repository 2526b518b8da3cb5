"""A task of several ranks gets its output lines labelled with their rank (MPICH's ``-l``).

Every rank of an MPI task writes into the one ``<task>.out``, in the order its output
arrives: which rank's ``DH-OUTPUT`` line comes last is a matter of timing, and an
unbuffered write can even be cut and interleaved with another rank's.  MPICH's launcher
(Hydra, also Intel MPI's) labels each piece of output it forwards with ``[RANK] ``
(``-l``, i.e. ``-prepend-rank``), so the reader can put every rank's stream back together
and take rank 0's objective (:mod:`dhflow.results.marked_lines`).  :func:`install` adds
``-l`` to the command of every task of more than one rank when Balsam's MPI template is
``MPICHCommand``; a one-rank task's output is left exactly as the program wrote it.
Other templates (Open MPI, srun, aprun) and dhflow's ``mpirun`` stand-in do not label: the
reader then takes the last marked line of the file, as for one rank.
"""
from __future__ import annotations

#: Hydra's flag for "prepend the rank to each output line" (`-prepend-rank`).
LABEL_FLAG = "-l"


def labelled_flags(num_ranks: int, mpi_flags: str) -> str:
    """The job's ``mpi_flags`` with the label flag added for several ranks (once)."""
    if num_ranks <= 1 or LABEL_FLAG in mpi_flags.split():
        return mpi_flags
    return f"{LABEL_FLAG} {mpi_flags}".strip()


def install() -> None:
    """Patch Balsam's MPICHCommand (the template dhflow configures for MPICH and the stand-in)."""
    from balsam.launcher import mpi_commands

    cls = mpi_commands.MPICHCommand
    if getattr(cls, "_dhflow_labels", False):
        return
    call = cls.__call__

    def __call__(self, workers, *, app_cmd, num_ranks, ranks_per_node, envs, cpu_affinity,
                 threads_per_rank=1, threads_per_core=1, mpi_flags=""):
        return call(self, workers, app_cmd=app_cmd, num_ranks=num_ranks, ranks_per_node=ranks_per_node,
                    envs=envs, cpu_affinity=cpu_affinity, threads_per_rank=threads_per_rank,
                    threads_per_core=threads_per_core, mpi_flags=labelled_flags(num_ranks, mpi_flags or ""))

    cls.__call__ = __call__
    cls._dhflow_labels = True
