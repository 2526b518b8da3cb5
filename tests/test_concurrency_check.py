"""DH411: a search's `parallel` beyond what the launch runs at once (Balsam 0.5.0: mpi mode
gives a task whole nodes, serial mode 1/node_packing_count of one; a launcher on this
machine has one node). The figures the message names are those the launch really gives;
the local case was measured: 4 tasks of `sleep 3` took 13 s with node_packing_count 1 and
5 s with node_packing_count 4."""
from __future__ import annotations

import pytest

from dhflow.compiler.api import compile_source
from dhflow.compiler.source import SourceFile

HEAD = '''workflow s:
space:
    x: int(1, 8)
search: tpe(evals=20{parallel})

rule train:
    foreach: space
    shell: "echo DH-OUTPUT {{x}}"
    objective: stdout("DH-OUTPUT")
{resources}
'''


def dh411(parallel: str, resources: str = "", launch: str = "") -> list:
    text = HEAD.format(parallel=parallel, resources=resources) + launch
    diags = compile_source(SourceFile.from_text(text, "/tmp/x.dhflow")).diagnostics
    return [d for d in diags if d.code == "DH411"]


BATCH = '''launch:
    scheduler: slurm
    project: "p"
    queue: "q"
    wall_time: 10
    nodes: {nodes}
{mode}'''


def test_whole_node_tasks_on_one_node_name_both_numbers_and_the_fixes():
    [d] = dh411(", parallel=4", launch="launch:\n    nodes: 1\n")
    assert d.severity == "warning"
    assert "`parallel=4` asks for 4 evaluations at once" in d.message
    assert "runs at most 1 at once" in d.message and "the other 3 wait" in d.message
    assert "raise `nodes` in `launch:` to 4" in d.help
    assert "`node_packing_count: 4` on rule `train`" in d.help and "lower `parallel` to 1" in d.help
    assert (d.span.line, d.span.col) == (4, 23)


def test_mpi_mode_counts_whole_nodes_and_ignores_packing():
    launch = BATCH.format(nodes=6, mode="    job_mode: mpi\n")
    [d] = dh411(", parallel=4", "    nodes: 2\n    node_packing_count: 8\n", launch)
    assert "runs at most 3 at once" in d.message and "takes 2 whole nodes (mpi mode)" in d.message
    assert "raise `nodes` in `launch:` to 8" in d.help
    assert "node_packing_count" not in d.help   # it cannot help a 2-node task
    # serial-capable tasks under an explicit mpi mode: packing needs serial mode, said so
    [d] = dh411(", parallel=4", "", BATCH.format(nodes=2, mode="    job_mode: mpi\n"))
    assert "runs at most 2 at once" in d.message and "with `job_mode: serial`" in d.help


@pytest.mark.parametrize("parallel, resources, launch", [
    (", parallel=4", "    node_packing_count: 4\n", "launch:\n    nodes: 1\n"),   # 4 share the node
    (", parallel=8", "    node_packing_count: 4\n", BATCH.format(nodes=2, mode="")),  # serial: 2 x 4
    (", parallel=3", "    nodes: 2\n", BATCH.format(nodes=6, mode="")),            # mpi: 6 // 2
    ("", "", "launch:\n    nodes: 1\n"),                  # no parallel given: the default, not judged
    (", parallel=4", "    nodes: 1 if x < 9 else 2\n", BATCH.format(nodes=2, mode="")),  # depends on x
])
def test_no_warning_when_the_launch_holds_them_or_it_cannot_be_told(parallel, resources, launch):
    assert dh411(parallel, resources, launch) == []


def test_no_launch_block_means_this_machine():
    [d] = dh411(", parallel=2")
    assert "a launcher on this machine has 1 node" in d.message
    assert "batch scheduler" in d.help and "lower `parallel` to 1" in d.help
