"""Balsam's stage-in with names that keep their extension and say which parent they came from.

balsam-flow 0.5.0 (``balsam.core.transitions.stage_in``) links the files matching a job's
``input_files`` patterns from each parent's working directory, and names a link whose name
is taken ``<name>_<first 8 hex of the parent's job id>``: a gather over four parents that
each wrote ``result.json`` received ``result.json``, ``result.json_316a6619``, ... so a
script's ``glob("*.json")`` saw one file of four.  It also skipped, with only a log line,
a link whose name was taken.

dhflow's rule, the same in serial and MPI mode (the transition processes that stage in are
forks of the launcher, which installs this):

* a task with **one parent** gets each matching file under its own name (``result.json``);
* a task with **several parents** gets each one as ``<name>.<parent task><rest>``, the
  parent's task name inserted before the first dot of the file name (a leading dot
  excepted): ``result.json`` from ``train.3`` -> ``result.train.3.json``,
  ``ckpt.tar.gz`` -> ``ckpt.train.3.tar.gz``, ``log`` -> ``log.train.3``; so every
  ``*.json`` or ``*.tar.gz`` glob still matches, and the name says where the file is from;
* files are linked in a fixed order (parents by task name, then paths); a pattern matching a
  file twice links it once; a link left by an earlier stage-in of the same task is replaced;
* two different files that would get one name (``out/a.json`` and ``b/a.json`` from one
  parent), or a name taken by a file that is not a link, fail the task with both paths named:
  nothing is dropped silently.
"""
from __future__ import annotations

import glob
import logging
import os

logger = logging.getLogger("balsam.core.transitions.dhflow_stage_in")


def linked_name(basename: str, parent: str | None) -> str:
    """The name a parent's file gets in its child's directory (``parent`` None: one parent)."""
    if parent is None:
        return basename
    lead = len(basename) - len(basename.lstrip("."))  # `.env` keeps its leading dot
    dot = basename.find(".", lead)
    if dot < 0 or dot == len(basename) - 1:
        return f"{basename}.{parent}" if dot < 0 else f"{basename}{parent}"
    return f"{basename[:dot]}.{parent}{basename[dot:]}"


def plan_links(parents: list[tuple[str, str]], patterns: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """The links to make for (parent task name, parent directory) pairs and glob patterns:
    ([(link name, source path)], [clash messages]).  Pure but for the globbing."""
    several = len(parents) > 1
    links: dict[str, str] = {}
    clashes: list[str] = []
    for name, directory in sorted(parents):
        seen: set[str] = set()
        for pattern in patterns:
            for source in sorted(glob.glob(os.path.join(directory, pattern))):
                if source in seen:
                    continue
                seen.add(source)
                target = linked_name(os.path.basename(source), name if several else None)
                if target in links and links[target] != source:
                    clashes.append(f"{links[target]} and {source} would both be linked as {target}")
                    continue
                links[target] = source
    return sorted(links.items()), clashes


def _link(source: str, path: str) -> None:
    """A symlink at ``path`` to ``source``, replacing an earlier link (a rerun's stage-in)."""
    if os.path.islink(path):
        if os.readlink(path) == source:
            return
        os.unlink(path)
    elif os.path.lexists(path):
        raise FileExistsError(f"{path} exists and is not a link; not replaced by a link to {source}")
    os.symlink(source, path)


def stage_in(job):
    """``balsam.core.transitions.stage_in`` with dhflow's names (see the module's docstring)."""
    from balsam.core import transfer, transitions as tr

    work_dir = job.working_directory
    os.makedirs(work_dir, exist_ok=True)
    if job.stage_in_url:  # Balsam's own remote transfer, unchanged
        logger.info(f"{job.cute_id} transfer in from {job.stage_in_url}")
        try:
            transfer.stage_in(f"{job.stage_in_url}", f"{work_dir}")
        except Exception as exc:  # noqa: BLE001 - Balsam turns any transfer error into FAILED
            raise tr.BalsamTransitionError(f"Exception received during stage_in: {exc}") from exc
    patterns = job.input_files.split()
    parents = [(p.name, p.working_directory) for p in job.get_parents()] if patterns else []
    links, clashes = plan_links(parents, patterns)
    if clashes:
        raise tr.BalsamTransitionError("stage-in: " + "; ".join(clashes))
    for name, source in links:
        path = os.path.join(work_dir, name)
        logger.info(f"{job.cute_id}   {path}  -->  {source}")
        try:
            _link(source, path)
        except Exception as exc:  # noqa: BLE001 - a link that cannot be made fails the task
            raise tr.BalsamTransitionError(f"stage-in: cannot link {path}: {exc}") from exc
    job.state = "STAGED_IN"


def install() -> None:
    """Use :func:`stage_in` for READY jobs in this process and the transition processes it forks."""
    from balsam.core import transitions

    transitions.stage_in = stage_in
    transitions.TRANSITIONS["READY"] = stage_in
