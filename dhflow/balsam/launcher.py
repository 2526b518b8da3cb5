"""Running a workflow's jobs: the real Balsam launcher on this machine, or a batch job.

Local runs (``dhflow run``, ``dhflow submit`` with ``scheduler: local``)
-------------------------------------------------------------------------
dhflow starts Balsam's launcher (``balsam launcher --wf-filter NAME --job-mode M``)
through :mod:`dhflow.balsam.shims.balsam_launcher`, a thin wrapper that makes the workflow
filter exact (Balsam's is a substring match: the launcher of ``demo`` would also run
``demo2``'s jobs; the wrapper also makes Balsam's waits event-driven, see
:mod:`dhflow.balsam.shims.fast_launcher`).  ``dhflow run`` watches the database (woken by the
launcher's job notifications, :mod:`dhflow.balsam.shims.pg_wakeup`) until every job of the plan is
final (JOB_FINISHED, FAILED or USER_KILLED), printing per-rule counts, then stops the
launcher with SIGTERM (Balsam's serial mode would otherwise linger 120 s idle) and, if it
has not exited after a grace period, kills its process group.

* MPI: Balsam starts every job through ``mpirun`` (serial mode starts its ensemble with
  ``mpirun -n 1``).  When no real ``mpirun`` is on PATH, dhflow puts
  ``dhflow/balsam/shims/bin`` first on the launcher's PATH: its ``mpirun`` starts one process per
  rank with ``PMI_RANK``/``PMI_SIZE`` set (see that file); ``DHFLOW_MPIRUN_SHIM=1`` forces
  it.  A real mpirun is otherwise preferred; Open MPI gets ``OMPI_ALLOW_RUN_AS_ROOT`` when
  dhflow runs as root.
* Job mode: ``--job-mode`` if given, else ``launch.job_mode`` when the file's launcher is
  ``local``, else ``serial`` when every task is single-rank on one node (Balsam's serial
  mode runs only those), else ``mpi``.  This machine is one Balsam worker: a task needing
  more than one node can never run here, and is refused before anything is written.
* Serial launchers on one host share a fixed ZMQ port (19876): dhflow holds an exclusive
  lock (``/tmp/dhflow-balsam-serial-19876.lock``, never under $TMPDIR) for the launcher's lifetime.
  When the port is still taken once the lock is held: a launcher of dhflow's whose run is
  gone is named and stopped, one whose run still lives is waited for, and anything else is
  refused, with its pid and command (:mod:`dhflow.balsam.port_holders`).
* Nothing outlives its run: every launcher carries a mark in its environment, and those of
  ``dhflow run`` name their owner; a watchdog in the launcher and in each ensemble process
  ends all of them once the owner is gone, however it ended (:mod:`dhflow.balsam.owner`).
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from dhflow.errors import BackendError

SERIAL_PORT = 19876


# -------------------------------------------------------------------- mpirun
def shim_path_dir(db_path: str | None = None) -> str:
    """A directory holding an executable copy of dhflow's mpirun stand-in."""
    from dhflow.balsam.env import shim_bin_dir

    shim = shim_bin_dir() / "mpirun"
    if os.access(shim, os.X_OK):
        return str(shim_bin_dir())
    with contextlib.suppress(OSError):
        os.chmod(shim, 0o755)
        return str(shim_bin_dir())
    # a read-only install that lost the exec bit: use a copy next to the database
    target = Path(db_path or tempfile.gettempdir()) / "dhflow" / "bin"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(shim, target / "mpirun")
    os.chmod(target / "mpirun", 0o755)
    return str(target)


def launcher_path_dirs(db_path: str | None = None) -> tuple[list[str], dict]:
    """Extra PATH entries and env for the launcher (the mpirun shim when there is no MPI)."""
    from dhflow.balsam.env import real_mpirun_kind

    kind = real_mpirun_kind()
    extra_env: dict[str, str] = {}
    if os.environ.get("DHFLOW_MPIRUN_SHIM") == "1" or kind is None:
        return [shim_path_dir(db_path)], extra_env
    if kind == "openmpi" and os.geteuid() == 0:
        extra_env = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
    return [], extra_env


# -------------------------------------------------------------- serial lock
def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def serial_lock_path() -> Path:
    """Host-wide, so never under $TMPDIR (two sessions may set different ones)."""
    base = "/tmp" if os.path.isdir("/tmp") and os.access("/tmp", os.W_OK) else tempfile.gettempdir()
    return Path(base) / f"dhflow-balsam-serial-{SERIAL_PORT}.lock"


def acquire_serial_lock(wait: float | None = None, announce=None) -> int:
    """An fd holding the host-wide serial-launcher lock (close it to release)."""
    path = serial_lock_path()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o666)
    deadline = None if wait is None else time.monotonic() + wait
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if deadline is not None and time.monotonic() > deadline:
                os.close(fd)
                raise BackendError("another Balsam serial launcher started by dhflow is running on this host "
                                   f"(lock {path}); serial launchers share ZMQ port {SERIAL_PORT}")
            if not told and announce:
                announce(f"waiting for another serial-mode launcher on this host to finish (ZMQ port {SERIAL_PORT})")
                told = True
            if deadline is None:
                fcntl.flock(fd, fcntl.LOCK_EX)  # blocks; the kernel wakes us the moment it is free
                if announce:
                    announce("the other serial-mode launcher is done: starting")
                break
            time.sleep(1.0)
    # the lock is ours; is the port really free (a stale launcher, or not one of dhflow's)?
    try:
        _free_serial_port(announce or _to_stderr)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _free_serial_port(announce, port: int = SERIAL_PORT, unseen_grace: float = 10.0) -> None:
    """Return once the serial port is free.  Its holder, when dhflow holds the lock: a
    launcher of dhflow's whose run is gone (SIGKILLed before it could stop it) is named and
    stopped; one whose run still lives (ending) is waited for; anything else is refused."""
    from dhflow.balsam import owner, port_holders

    told: set[str] = set()
    stopped: set[str] = set()
    unseen_since = None
    while not _port_free(port):
        found = port_holders.holders(port)
        foreign = [h for h in found if h.mark is None]
        if foreign:
            raise BackendError(f"ZMQ port {port} is in use on this host by "
                               + "; ".join(h.describe() for h in foreign)
                               + ", which no dhflow run on this host started; stop it or use --job-mode mpi")
        if not found:  # a listener this user cannot see (another user's), or one just closing
            unseen_since = unseen_since or time.monotonic()
            if time.monotonic() - unseen_since > unseen_grace:
                raise BackendError(f"ZMQ port {port} is in use on this host (a Balsam serial launcher "
                                   "not started by dhflow, or another user's?); stop it or use --job-mode mpi")
        for holder in found:
            mark = holder.mark
            if mark.owner_alive():
                if mark.token not in told:
                    told.add(mark.token)
                    announce(f"waiting for the serial launcher of workflow {mark.workflow} (pid {holder.pid}) "
                             f"to leave ZMQ port {port}: its dhflow (pid {mark.owner_pid}) is ending it")
                continue
            whose = (f"its parent gone (dhflow pid {mark.owner_pid})" if mark.owned
                     else "its `scheduler: local` launcher gone")
            what = f"pid {holder.pid}, workflow {mark.workflow}, {whose}"
            if mark.token in stopped:  # killed and waited for, yet still there: not ours to kill
                raise BackendError(f"ZMQ port {port} is held by a stale serial launcher that dhflow cannot "
                                   f"stop ({what}); stop it or use --job-mode mpi")
            stopped.add(mark.token)
            announce(f"a stale serial launcher of this host holds ZMQ port {port}: {what}; stopping it")
            owner.wait_gone(owner.kill_launcher(mark.token), 5.0)
        time.sleep(0.1)


def _to_stderr(message: str) -> None:
    print(f"dhflow: {message}", file=sys.stderr)


# ---------------------------------------------------------------- launcher
def launcher_command(workflow: str, job_mode: str, time_limit_minutes: float | None = None) -> list[str]:
    from dhflow.balsam.env import shim_dir

    cmd = [sys.executable, str(shim_dir() / "balsam_launcher.py"), "--wf-filter", workflow,
           "--job-mode", job_mode]
    if time_limit_minutes:
        cmd += ["--time-limit-minutes", str(time_limit_minutes)]
    return cmd


def start_launcher(db_path: str, workflow: str, job_mode: str, *, log_path: Path, owned: bool,
                   time_limit_minutes: float | None = None, pass_fds=()) -> subprocess.Popen:
    """Start the launcher of ``workflow`` in a session of its own.  ``owned``: it belongs to
    this process, and everything it starts ends within about a second once this process is
    gone (False for a detached ``scheduler: local`` launcher)."""
    from dhflow.balsam import env as envmod, owner

    from dhflow.balsam.emit import command_dir

    standin_path, extra_env = launcher_path_dirs(db_path)
    extra_path = [*standin_path, command_dir(db_path)]  # `dhflow emit` in the jobs
    env = envmod.subprocess_env(db_path, "local", extra_path=extra_path)
    env.update(extra_env)
    owner.mark_environment(env, workflow, owned=owned)
    # the launcher must find this dhflow (the wrapper imports dhflow.balsam.shims)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    out = open(log_path, "ab")
    try:
        proc = subprocess.Popen(launcher_command(workflow, job_mode, time_limit_minutes), env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                cwd=db_path, start_new_session=True, pass_fds=tuple(pass_fds))
    except OSError as exc:
        raise BackendError(f"cannot start the Balsam launcher: {exc}") from None
    finally:
        out.close()
    proc.dhflow_mpirun_standin = bool(standin_path)  # reported in the run summary
    proc.dhflow_token = env[owner.ENV_TOKEN]  # its processes, whatever their session
    return proc


def stop_launcher(proc: subprocess.Popen, grace: float = 30.0) -> int | None:
    """SIGTERM the launcher, wait, then kill whatever is left of its process group."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    # stragglers of the launcher's own session (ensemble workers, transition processes)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:  # usually empty at once: no fixed 0.5 s wait
            time.sleep(0.02)
            os.killpg(proc.pid, 0)  # ProcessLookupError once the group is gone
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    token = getattr(proc, "dhflow_token", None)
    if token:  # the ensemble's own sessions (hydra's proxy starts one), when mpirun left them
        from dhflow.balsam import owner

        owner.wait_gone(owner.kill_launcher(token), 5.0)
    return proc.returncode


def log_tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


@dataclass
class RunOutcome:
    final: bool
    seconds: float
    counts: dict
    timed_out: bool = False
    launcher_log: str = ""
    mpirun_standin: bool = False  # tasks ran under dhflow's mpirun stand-in (no MPI installed)


_TERMINATING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _raise_on_termination() -> dict:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt (as SIGINT already is) while a launcher runs,
    so `timeout`, a cancelled CI job or a closed terminal stop the launcher too; returns the
    previous handlers."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            previous[sig] = signal.signal(sig, interrupt)
        except ValueError:  # not the main thread: leave the handlers alone
            pass
    previous[signal.SIGINT] = signal.getsignal(signal.SIGINT)
    return previous


def run_local(plan: dict, db_path: str, job_ids: dict[str, str], job_mode: str, *,
              timeout: float | None = None, progress=None, poll: float = 1.0) -> RunOutcome:
    """Run the launcher until every job of the plan is final (Balsam activated)."""
    from dhflow.results import progress as prog
    from dhflow.balsam.poll import ProgressPoll

    wf = plan["workflow"]
    snapshot = ProgressPoll(plan, job_ids).snapshot  # aggregated queries: no job row per tick

    start = time.monotonic()
    counts = snapshot()
    if progress:
        progress.update(counts, 0.0)
    if prog.all_final(counts):
        return RunOutcome(True, 0.0, counts)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    log_path = Path(db_path) / "log" / f"dhflow-launcher-{wf}-{stamp}.out"
    lock_fd = None
    if job_mode == "serial":
        lock_fd = acquire_serial_lock(announce=lambda m: print(f"dhflow: {m}", file=sys.stderr))
        start = time.monotonic()  # --timeout is this run's time: not the wait for another launcher
    proc = None
    previous = _raise_on_termination()
    from dhflow.balsam.shims.pg_wakeup import Waker

    waker = Waker(signals=False)  # woken by the launcher's job notifications; `poll` is the fallback
    try:
        proc = start_launcher(db_path, wf, job_mode, log_path=log_path, owned=True)
        standin = proc.dhflow_mpirun_standin
        cost = 0.0
        while True:
            waker.paced_wait(poll, max(0.1, cost))  # a big workflow's snapshot paces itself
            taken = time.monotonic()
            counts = snapshot()
            cost = time.monotonic() - taken
            elapsed = time.monotonic() - start
            if progress:
                progress.update(counts, elapsed)
            if prog.all_final(counts):
                return RunOutcome(True, elapsed, counts, launcher_log=str(log_path), mpirun_standin=standin)
            if proc.poll() is not None:
                time.sleep(1.0)  # the launcher may have written its last states just now
                counts = snapshot()
                if prog.all_final(counts):
                    return RunOutcome(True, elapsed, counts, launcher_log=str(log_path), mpirun_standin=standin)
                tail = log_tail(log_path)
                raise BackendError(f"the Balsam launcher exited (code {proc.returncode}) before workflow {wf} "
                                   f"finished; log: {log_path}" + (f" [{tail}]" if tail else ""))
            if timeout is not None and elapsed > timeout:
                return RunOutcome(False, elapsed, counts, timed_out=True, launcher_log=str(log_path),
                                  mpirun_standin=standin)
    finally:
        # The launcher runs in its own session (so a terminal's Ctrl-C reaches dhflow only):
        # whatever ends dhflow, the launcher must be stopped here, uninterrupted.
        ignored = {sig: signal.signal(sig, signal.SIG_IGN) for sig in _TERMINATING}
        try:
            waker.close_db()
            if proc is not None:
                stop_launcher(proc)
            if lock_fd is not None:
                os.close(lock_fd)
        finally:
            for sig in _TERMINATING:
                signal.signal(sig, previous.get(sig, ignored[sig]))


def start_background(wf: str, db_path: str, job_mode: str, *, time_limit_minutes: float | None) -> tuple[int, str]:
    """``scheduler: local`` submission: a detached launcher of workflow ``wf``; returns (pid, log path)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    log_path = Path(db_path) / "log" / f"dhflow-launcher-{wf}-{stamp}.out"
    fds = ()
    lock_fd = None
    if job_mode == "serial":
        lock_fd = acquire_serial_lock(wait=0)
        fds = (lock_fd,)
    try:
        proc = start_launcher(db_path, wf, job_mode, log_path=log_path, owned=False,
                              time_limit_minutes=time_limit_minutes, pass_fds=fds)
    finally:
        if lock_fd is not None:
            os.close(lock_fd)  # the launcher keeps the lock through its inherited fd
    return proc.pid, str(log_path)
