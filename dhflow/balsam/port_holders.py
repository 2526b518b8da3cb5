"""Who holds a TCP port on this host, and whether it is a launcher of dhflow's.

Used when dhflow holds the host-wide serial-launcher lock but the serial ZMQ port is still
taken: the listening sockets are found in ``/proc/net/tcp`` and ``/proc/net/tcp6`` and their
processes by the socket inodes in ``/proc/*/fd``; each process's launcher mark
(:mod:`dhflow.balsam.owner`) says whose it is.  Only the processes this user may inspect
are seen (all of them as root).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from dhflow.balsam import owner

_LISTEN = "0A"


@dataclass(frozen=True)
class Holder:
    """A process listening on the port, with its command line and launcher mark (if any)."""

    pid: int
    command: str
    mark: owner.Mark | None

    def describe(self) -> str:
        """One phrase naming the process, for a message."""
        if self.mark is None:
            return f"pid {self.pid} ({self.command})"
        return f"pid {self.pid}, workflow {self.mark.workflow}"


def listening_inodes(port: int) -> set[str]:
    """The inodes of the sockets listening on TCP ``port`` (IPv4 and IPv6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fp:
                next(fp, None)
                for line in fp:
                    cols = line.split()
                    if len(cols) > 9 and cols[3] == _LISTEN and int(cols[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(cols[9])
        except OSError:
            continue
    return inodes


def listeners(port: int) -> list[int]:
    """The pids holding a socket that listens on TCP ``port``."""
    wanted = {f"socket:[{inode}]" for inode in listening_inodes(port)}
    if not wanted:
        return []
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{name}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{name}/fd/{fd}") in wanted:
                    found.append(int(name))
                    break
            except OSError:
                continue
    return sorted(found)


def holders(port: int) -> list[Holder]:
    """The processes listening on ``port``, each with its command and launcher mark."""
    return [Holder(pid, owner.cmdline_of(pid), owner.mark_of(owner.environ_of(pid))) for pid in listeners(port)]
