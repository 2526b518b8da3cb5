"""The runtime's front door: a command's FILE read, parsed and checked once, into an Experiment.

Every runtime verb takes an :class:`Experiment`; nothing outside :mod:`dhflow.compiler`
reads the language.  Loading parses and checks the file (milliseconds, never sampled or
expanded); what a verb needs beyond that is derived from the same checked spec, once:

* :meth:`Experiment.plan`: the whole compiled plan (a sweep's tasks);
* :meth:`Experiment.streaming`: the tasks one at a time (a huge sweep written or matched
  while it is compiled);
* :meth:`Experiment.search`: a search's context (method, budget, the rules' roles, its
  fingerprint), built from one compile.

The kind is the spec's: ``sweep`` or ``search``, or ``plan`` for a plan JSON file (the
output of ``dhflow plan --format json``), which is only ever a sweep.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from dhflow.errors import CompileFailed

SWEEP, SEARCH, PLAN_JSON = "sweep", "search", "plan"


@dataclass
class Experiment:
    """One experiment file, loaded once per command (see the module docstring)."""

    file: str
    db: str | None
    kind: str
    spec: object = None                 # dhflow.compiler.check.model.Spec (None for a plan JSON file)
    source: object = None               # the SourceFile diagnostics point into
    warnings: list = field(default_factory=list)
    _checked: object = None             # dhflow.compiler.api.CheckResult
    _plan_json: dict | None = None
    _compiled: object = None            # dhflow.compiler.api.CompileResult, once compiled
    _plan_dict: dict | None = None
    _streamed: bool = False
    _search: object = None              # dhflow.runtime.search_plan.SearchContext, once built
    _shown: set = field(default_factory=set)

    # ----------------------------------------------------------------- what it is
    @property
    def is_search(self) -> bool:
        return self.kind == SEARCH

    @property
    def workflow(self) -> str:
        return self.head()["workflow"]

    def head(self) -> dict:
        """The plan without its tasks: workflow, objective, apps, launch, source."""
        if self._plan_json is not None:
            return {k: v for k, v in self._plan_json.items() if k != "tasks"}
        from dhflow.compiler.expand.tasks import plan_head

        head = plan_head(self.spec).to_dict()
        head.pop("tasks", None)
        return head

    def digest(self) -> str | None:
        """The input digest (equal digests, equal plans); None for a plan JSON file."""
        if self.spec is None:
            return None
        from dhflow.compiler.api import input_digest

        return input_digest(self.spec)

    # ------------------------------------------------------------ derived, once
    def plan(self) -> dict:
        """The whole compiled plan (a sweep's tasks; a search's initial design). Compiled once."""
        if self._plan_json is not None:
            return self._plan_json
        if self._plan_dict is None:
            self._plan_dict = self._compile().plan.to_dict()
        return self._plan_dict

    def _compile(self):
        if self._compiled is None:
            from dhflow.compiler.api import compile_checked

            result = compile_checked(self._checked)
            if not result.ok:
                raise CompileFailed(result.diagnostics, result.source)
            self._note_new_warnings(result.diagnostics)
            self._compiled = result
        return self._compiled

    def streaming(self, *, as_dicts: bool = True):
        """A streaming compile of the same checked spec (``tasks`` pulled one at a time);
        a command streams its tasks once."""
        if self._streamed or self._compiled is not None:
            # a programming error, not a user's: every verb streams or compiles once
            raise AssertionError("an experiment's tasks are streamed once per command, before any whole compile")
        self._streamed = True
        from dhflow.compiler.api import stream_checked

        return stream_checked(self._checked, as_dicts=as_dicts)

    def search(self):
        """The search's context (:class:`dhflow.runtime.search_plan.SearchContext`)."""
        if not self.is_search:
            raise RuntimeError(f"{self.file} is not a search")
        if self._search is None:
            from dhflow.runtime.search_plan import context_of

            self._search = context_of(self.file, self._compile(), self.warnings)
        return self._search

    def take_unshown(self) -> list:
        """The warnings not taken yet (the checks', then the compile's as it happens): a
        command shows each once, whenever its verb has found more."""
        fresh = [d for d in self.warnings if _key(d) not in self._shown]
        self._shown.update(_key(d) for d in fresh)
        return fresh

    def _note_new_warnings(self, diagnostics) -> None:
        """Warnings found past the checks (expanding) join the ones shown."""
        seen = {_key(d) for d in self.warnings}
        self.warnings += [d for d in diagnostics if _key(d) not in seen]


def _key(diagnostic) -> tuple:
    return diagnostic.code, diagnostic.span.start, diagnostic.message


def load(file: str, db: str | None = None) -> Experiment:
    """FILE read (bounded), parsed and checked once; CompileFailed carries the diagnostics.

    A ``.json`` FILE is a compiled plan (``dhflow plan --format json``)."""
    if file.endswith(".json"):
        from dhflow.errors import UsageError
        from dhflow.runtime.plans import load_plan_json

        plan = load_plan_json(file)
        if plan.get("search"):  # its evaluations are proposed while it runs: the JSON has none of them
            raise UsageError(f"{file} is the plan of a search: give its .dhflow file, whose search the "
                             "commands run, continue and read")
        return Experiment(file, db, PLAN_JSON, _plan_json=plan)
    from dhflow.compiler.api import check_file

    checked = check_file(file)
    if not checked.ok:
        raise CompileFailed(checked.diagnostics, checked.source)
    kind = SEARCH if checked.spec.search is not None else SWEEP
    return Experiment(file, db, kind, checked.spec, checked.source, list(checked.diagnostics), _checked=checked)


def load_search(file: str):
    """The SearchContext of FILE, or None when it has no `search:` (tests, benchmarks)."""
    exp = load(file)
    return exp.search() if exp.is_search else None
