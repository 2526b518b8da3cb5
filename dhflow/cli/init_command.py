"""`dhflow init [DIR] [--template NAME]`: write a working experiment into DIR.

Each template is a folder of files beside this module; `__NAME__` becomes the workflow's
name (DIR's name, made an identifier) and `__FILE__` the experiment file's name.
"""
from __future__ import annotations

import re
import stat
import sys
from importlib import resources
from pathlib import Path

from dhflow.errors import EXIT_OK, EXIT_USAGE
TEMPLATES = ("sweep", "search", "container", "fortran", "datasets")


def register(subparsers) -> None:
    """Add the `init` subcommand to the dhflow argument parser."""
    c = subparsers.add_parser("init", help="start a new experiment from a template")
    c.add_argument("dir", nargs="?", default=".", help="where to write it (default: here)")
    c.add_argument("--template", default="sweep", choices=TEMPLATES,
                   help="sweep (default), search (adaptive), container, fortran or datasets (fan-out)")
    c.add_argument("--name", help="the workflow's name (default: the directory's name)")
    c.add_argument("--force", action="store_true", help="overwrite files that exist")
    c.set_defaults(func=run)


def workflow_name(directory: Path) -> str:
    """An identifier from a directory name: `my exp-1` -> `my_exp_1`."""
    name = re.sub(r"\W+", "_", directory.resolve().name).strip("_") or "experiment"
    return name if not name[0].isdigit() else f"exp_{name}"


def template_files(template: str) -> dict[str, bytes]:
    """The files of a template: relative name -> content (placeholders not yet filled)."""
    root = resources.files("dhflow.scaffold") / "templates" / template
    return {entry.name: entry.read_bytes() for entry in root.iterdir() if entry.is_file()}


def write(directory: Path, template: str, name: str, force: bool = False) -> list[Path]:
    """Write a template into `directory`; the paths written. FileExistsError if one exists."""
    exp_file = f"{name}.dhflow"
    files = {}
    for rel, data in sorted(template_files(template).items()):
        target = exp_file if rel == "experiment.dhflow" else rel
        text = data.decode("utf-8").replace("__NAME__", name).replace("__FILE__", exp_file)
        files[directory / target] = text
    clash = [p for p in files if p.exists()]
    if clash and not force:
        raise FileExistsError(clash[0])
    directory.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
        if path.suffix == ".sh":
            path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return list(files)


def run(args) -> int:
    """Write the template; say what to run next."""
    directory = Path(args.dir)
    name = args.name or workflow_name(directory)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        print(f"dhflow: --name must be an identifier (letters, digits, _), not {name!r}", file=sys.stderr)
        return EXIT_USAGE
    try:
        written = write(directory, args.template, name, args.force)
    except FileExistsError as exc:
        print(f"dhflow: {exc.args[0]} exists; use --force to overwrite", file=sys.stderr)
        return EXIT_USAGE
    exp = next(p for p in written if p.suffix == ".dhflow")
    print(f"dhflow: wrote {', '.join(p.name for p in written)} in {directory}", file=sys.stderr)
    print(f"next: dhflow check {exp}  then  dhflow run {exp}", file=sys.stderr)
    return EXIT_OK
