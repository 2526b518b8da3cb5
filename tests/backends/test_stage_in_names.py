"""Gathered files keep their extension and name their parent (dhflow's stage-in, pure parts)."""
from __future__ import annotations

import fnmatch
import os

import pytest

from dhflow.balsam.shims.stage_in import _link, linked_name, plan_links


@pytest.mark.parametrize("name,parent,expected", [
    ("result.json", None, "result.json"),                       # one parent: the name is kept
    ("result.json", "train.3", "result.train.3.json"),
    ("ckpt.tar.gz", "train.linear.0", "ckpt.train.linear.0.tar.gz"),
    ("log", "train.3", "log.train.3"),
    (".env", "fit.1", ".env.fit.1"),
    (".hidden.json", "fit.1", ".hidden.fit.1.json"),
    ("odd.", "fit.1", "odd.fit.1"),
])
def test_linked_name(name, parent, expected):
    assert linked_name(name, parent) == expected


def _parent(tmp_path, name, files):
    d = tmp_path / name
    d.mkdir()
    for rel, text in files.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_text(text)
    return name, str(d)


def test_several_parents_every_file_kept_and_globbable(tmp_path):
    parents = [_parent(tmp_path, f"train.{i}", {"result.json": str(i), "model.tar.gz": "m"}) for i in (10, 2, 0, 1)]
    links, clashes = plan_links(parents, ["result.json", "*.tar.gz", "*.json"])  # result.json matched twice
    assert clashes == []
    names = [n for n, _ in links]
    assert sorted(fnmatch.filter(names, "*.json")) == [f"result.train.{i}.json" for i in (0, 1, 10, 2)]
    assert len(fnmatch.filter(names, "*.tar.gz")) == 4 and len(names) == 8
    src = dict(links)
    assert open(src["result.train.10.json"]).read() == "10"
    assert names == sorted(names)  # a fixed order, whatever the order parents came in


def test_one_parent_keeps_names(tmp_path):
    links, clashes = plan_links([_parent(tmp_path, "prepare.a", {"data.csv": "x"})], ["*.csv"])
    assert clashes == [] and [n for n, _ in links] == ["data.csv"]


def test_two_files_one_name_is_a_clash_not_a_silent_drop(tmp_path):
    parent = _parent(tmp_path, "p.0", {"a/x.json": "1", "b/x.json": "2"})
    links, clashes = plan_links([parent], ["*/x.json"])
    assert len(clashes) == 1 and "a/x.json" in clashes[0] and "b/x.json" in clashes[0]


def test_link_replaces_an_earlier_link_but_never_a_file(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("a"), b.write_text("b")
    path = str(tmp_path / "in.json")
    _link(str(a), path)
    _link(str(b), path)  # a rerun's stage-in
    assert os.readlink(path) == str(b)
    real = tmp_path / "real.json"
    real.write_text("mine")
    with pytest.raises(FileExistsError):
        _link(str(a), str(real))
    assert real.read_text() == "mine"


def test_mpich_command_labels_several_ranks_only():
    from balsam.launcher import mpi_commands

    from dhflow.balsam.shims import rank_labels

    rank_labels.install()
    cmd = mpi_commands.MPICHCommand()
    many = cmd([], app_cmd="prog", num_ranks=4, ranks_per_node=4, envs={}, cpu_affinity="none", mpi_flags="")
    one = cmd([], app_cmd="prog", num_ranks=1, ranks_per_node=1, envs={}, cpu_affinity="none", mpi_flags="")
    assert many.split()[:5] == ["mpirun", "-n", "4", "--ppn", "4"] and "-l" in many.split()
    assert "-l" not in one.split()
    assert rank_labels.labelled_flags(4, "-l") == "-l"
