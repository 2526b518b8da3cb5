"""The address a DB served on every interface advertises, from this machine's real
interfaces (read independently here with `ip -4 -o addr`), not from its name (which, on
these machines, resolves to 127.0.0.1; `socket.getfqdn()` answers `localhost`)."""
from __future__ import annotations

import ipaddress
import shutil
import subprocess

import pytest

from dhflow.balsam import advertise, auth
from dhflow.errors import UsageError


def ip_v4_addresses() -> list[str]:
    """Non-loopback IPv4 addresses of interfaces that are up, as `ip` lists them."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "up"], capture_output=True, text=True, check=True).stdout
    found = [line.split()[3].split("/")[0] for line in out.splitlines() if " inet " in line]
    return [a for a in found if not ipaddress.ip_address(a).is_loopback and not ipaddress.ip_address(a).is_link_local]


needs_ip = pytest.mark.skipif(shutil.which("ip") is None, reason="the `ip` command is not installed")


@needs_ip
def test_the_interfaces_addresses_are_those_ip_lists():
    expected = ip_v4_addresses()
    assert expected, "this machine has a non-loopback IPv4 address (`ip -4 addr`)"
    got = advertise.host_addresses()
    assert [a for a in got if ipaddress.ip_address(a).version == 4] == list(dict.fromkeys(expected))
    assert not any(auth.is_loopback(a) for a in got)


@needs_ip
def test_every_interface_advertises_a_non_loopback_address_of_this_host():
    host = auth.advertised_host("*")
    assert host in ip_v4_addresses() and not auth.is_loopback(host)
    assert auth.advertised_host("0.0.0.0") == auth.advertised_host("::") == host
    # the default route's source is preferred when it is one of them
    src = advertise.route_source()
    if src in ip_v4_addresses():
        assert host == src


def test_the_choice_rules():
    assert advertise.pick(["10.0.0.5", "192.0.2.7"], "192.0.2.7") == "192.0.2.7"
    assert advertise.pick(["10.0.0.5", "192.0.2.7"], "172.16.0.1") == "10.0.0.5"   # not ours: the first
    assert advertise.pick([], "10.0.0.5") is None
    # an explicit choice wins; no listen: loopback; a given address: itself
    assert auth.advertised_host("*", "login1.cluster") == "login1.cluster"
    assert auth.advertised_host(None) == "127.0.0.1"
    assert auth.advertised_host("10.1.2.3") == "10.1.2.3"
    assert auth.check_advertise(" login1.cluster ") == "login1.cluster"
    for bad in ("*", "0.0.0.0", "a b", ""):
        with pytest.raises(UsageError):
            auth.check_advertise(bad)


def test_loopback_is_warned_about_only_when_served():
    text = advertise.loopback_warning("127.0.0.1", "*", None)
    assert "no address but loopback" in text and "--advertise HOST" in text
    assert "no address but loopback" not in advertise.loopback_warning("localhost", "*", "localhost")
    assert advertise.loopback_warning("192.0.2.2", "*", None) is None
    assert advertise.loopback_warning("127.0.0.1", None, None) is None     # not served: loopback is right
