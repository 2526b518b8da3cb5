"""The marked line of a task's output that holds its objective, for one rank or several.

One rank: the last line that starts with the marker (as a whole word).

Several ranks write into the one ``<task>.out`` in the order their output arrives, so the
last marked line of the file belongs to whichever rank happened to write last.  dhflow's
launcher has MPICH label every piece of a multi-rank task's output with ``[RANK] ``
(:mod:`dhflow.balsam.shims.rank_labels`); a piece can begin in the middle of a line (an
unbuffered program writes a line in several pieces, and another rank's piece may come in
between), so the file is cut at every label and each rank's stream is put back together
before its lines are looked at.  The objective is then the last marked line of **rank 0**
(of the lowest rank that printed one, when rank 0 printed none): the same value whatever
order the ranks' lines arrived in.  Only a line that starts with a label is read as labelled
(MPICH starts every line of a labelled task with one), and labels count only when no
unlabelled line is marked: a file with an unlabelled marked line (one rank, or an MPI
launcher that does not label) gives the last unlabelled marked line, whatever "[N] " lines a
one-rank program printed itself.
"""
from __future__ import annotations

import re

#: MPICH's (Hydra's) ``-l`` label: ``[RANK] `` at the start of each piece of output it forwards.
LABEL = re.compile(r"\[(\d+)\] ")


def marks(line: str, marker: str) -> bool:
    """The line starts with the marker as a whole word (`DH-OUTPUT:` or `DH-OUTPUT 0.5`, not
    `DH-OUTPUT_STD: ...`)."""
    if not line.startswith(marker):
        return False
    nxt = line[len(marker):len(marker) + 1]
    return not nxt or not (nxt.isalnum() or nxt in "_-")


class _Scan:
    """The last marked line of the unlabelled text and of each labelled rank."""

    def __init__(self, marker: str):
        self.marker = marker
        self.partial: dict[int | None, str] = {}
        self.last: dict[int | None, str] = {}

    def piece(self, rank: int | None, text: str) -> None:
        buf = self.partial.get(rank, "") + text
        *done, rest = buf.split("\n")
        for line in done:
            self.line(rank, line)
        self.partial[rank] = rest

    def line(self, rank: int | None, line: str) -> None:
        line = line.rstrip("\r").rsplit("\r", 1)[-1]  # a progress bar's last frame
        if marks(line, self.marker):
            self.last[rank] = line

    def finish(self) -> tuple[int | None, str | None]:
        for rank, rest in self.partial.items():
            if rest:
                self.line(rank, rest)
        if self.last.get(None) is not None:
            # a marked line without a label: the program's own output is not labelled (one
            # rank: "[1] DH-OUTPUT" earlier in it is the program's text, not MPICH's label)
            return None, self.last[None]
        ranks = sorted(r for r in self.last if r is not None)
        if ranks:
            return ranks[0], self.last[ranks[0]]
        return None, None


def last_marked_line(lines, marker: str) -> tuple[int | None, str | None]:
    """(rank, line) of the objective's line among ``lines`` (an iterable of text lines, as a
    file gives them); rank None for unlabelled output; line None when there is none."""
    scan = _Scan(marker)
    for raw in lines:
        text = raw if raw.endswith("\n") else raw + "\n"
        if not text.startswith("[") or not LABEL.match(text):
            # unlabelled (one rank, or a launcher that does not label): MPICH starts every
            # line of a labelled task with a label, so "[3] " inside a line is the program's
            scan.piece(None, text)
            continue
        cuts = list(LABEL.finditer(text))
        for i, m in enumerate(cuts):
            end = cuts[i + 1].start() if i + 1 < len(cuts) else len(text)
            scan.piece(int(m.group(1)), text[m.end():end])
    return scan.finish()
