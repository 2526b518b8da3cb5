"""Which address of this machine a database served on every interface advertises.

``dhflow db start --listen '*'`` (or ``0.0.0.0``, ``::``) serves every interface, and
``server-info``'s ``host`` tells the compute nodes where to connect.  The machine's name is
no guide: on many hosts it resolves to 127.0.0.1 and ``socket.getfqdn()`` answers
``localhost``.  So the address is taken from the interfaces themselves (psutil, which
Balsam requires): an IPv4 address that is not loopback or link-local, on an interface that
is up, preferring the one this machine's default route leaves from; then a global IPv6
address.  ``--advertise HOST`` chooses it instead; with neither, 127.0.0.1 is advertised
and ``dhflow db start`` warns.
"""
from __future__ import annotations

import ipaddress
import socket

#: An address the route lookup asks about (a UDP "connect" sends nothing).
_PROBE = ("10.255.255.254", 9)


def _usable(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast)


def host_addresses() -> list[str]:
    """This machine's addresses compute nodes might reach: IPv4 first, then IPv6, in the
    interfaces' order, on interfaces that are up (none when psutil cannot say)."""
    try:
        import psutil

        addrs, stats = psutil.net_if_addrs(), psutil.net_if_stats()
    except Exception:  # no psutil, or no permission to read the interfaces
        return []
    v4, v6 = [], []
    for name, entries in addrs.items():
        if name in stats and not stats[name].isup:
            continue
        for e in entries:
            if e.family == socket.AF_INET and _usable(e.address):
                v4.append(e.address)
            elif e.family == socket.AF_INET6 and _usable(e.address):
                v6.append(e.address.split("%")[0])
    return list(dict.fromkeys(v4 + v6))


def route_source() -> str | None:
    """The IPv4 address this machine's default route leaves from (None without one)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(_PROBE)
            return s.getsockname()[0]
    except OSError:
        return None


def is_loopback(host: str | None) -> bool:
    """Whether clients on other machines cannot reach ``host``."""
    if not host or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def pick(addresses: list[str], preferred: str | None) -> str | None:
    """``preferred`` when it is one of ``addresses``, else the first of them (None: none)."""
    if preferred in addresses:
        return preferred
    return addresses[0] if addresses else None


def reachable_address() -> str | None:
    """The address a database served on every interface advertises; None when this
    machine has no address but loopback ones."""
    return pick(host_addresses(), route_source())


def loopback_warning(host: str | None, listen: str | None, advertise: str | None) -> str | None:
    """What `dhflow db start --listen` says when the host it advertises is loopback: the
    compute nodes could not connect (None when they can, or when the DB is not served)."""
    if not listen or not is_loopback(host):
        return None
    why = "" if advertise else "this machine has no address but loopback ones, so "
    return (f"{why}server-info advertises {host}: compute nodes on other machines cannot connect there; "
            f"give the address they reach this machine by: `dhflow db start --listen {listen} --advertise HOST`")
