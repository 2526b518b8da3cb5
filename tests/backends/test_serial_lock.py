"""dhflow's host-wide serial-launcher lock: a second `dhflow run` says it waits, then gets the
lock as soon as the first releases it (a blocking flock, not a 1 s poll)."""
from __future__ import annotations

import fcntl
import os
import threading

import pytest

from dhflow.balsam import launcher as launch


def test_waiting_run_gets_the_lock_when_released(tmp_path, monkeypatch):
    path = tmp_path / "serial.lock"
    monkeypatch.setattr(launch, "serial_lock_path", lambda: path)
    monkeypatch.setattr(launch, "_port_free", lambda port: True)
    holder = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(holder, fcntl.LOCK_EX)
    told = []
    release = threading.Timer(0.3, os.close, [holder])
    release.start()
    try:
        fd = launch.acquire_serial_lock(announce=told.append)
    finally:
        release.join()
    try:
        assert len(told) == 2 and "waiting for another serial-mode launcher" in told[0]
        assert "starting" in told[1]
        other = os.open(path, os.O_RDWR)
        try:  # held by us now: nobody else gets it
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(other)
    finally:
        os.close(fd)


def test_no_wait_means_no_wait(tmp_path, monkeypatch):
    path = tmp_path / "serial.lock"
    monkeypatch.setattr(launch, "serial_lock_path", lambda: path)
    holder = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        with pytest.raises(launch.BackendError, match="another Balsam serial launcher"):
            launch.acquire_serial_lock(wait=0)
    finally:
        os.close(holder)
