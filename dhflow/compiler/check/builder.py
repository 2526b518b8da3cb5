"""AST -> Spec: the builder, with structural diagnostics collected.

This stage knows which blocks and keys exist and what shape each value has; it reports
unknown blocks/keys (with did-you-mean), duplicates, missing pieces and wrong types, and
keeps going so that one run shows every problem. Cross-references (unknown apps, rules,
names) are checked afterwards by dhflow.compiler.check.rules.
"""
from __future__ import annotations

from dhflow.compiler.check.model import (
    APP_KEYS, BLOCKS, LAUNCH_KEYS, RESOURCE_KEYS, RULE_KEYS, SAMPLERS, WORKFLOW_KEYS, AppSpec, LaunchSpec,
    ObjectiveSpec, Param, RuleSpec, SamplerSpec, Spec, TemplateStr,
)
from dhflow.compiler.check.calls import keywords_known, known_call
from dhflow.compiler.check.search_builder import directions_of, objectives_of, search_of
from dhflow.compiler.check import fanout_builder
from dhflow.compiler.diagnostics import Diagnostic, Label, did_you_mean
from dhflow.compiler.parse import nodes as n
from dhflow.compiler.source import SourceFile, Span
from dhflow.target import JOB_MODES, SCHEDULERS


class _Builder:
    def __init__(self, src: SourceFile):
        self.src = src
        self.diags: list[Diagnostic] = []

    def err(self, code: str, msg: str, span: Span | None, help: str | None = None, labels=()):
        self.diags.append(Diagnostic(code, msg, span, help=help, labels=tuple(labels)))

    # -- value shapes
    def string(self, e: n.Expr, what: str) -> str | None:
        if isinstance(e, n.Str):
            return e.value
        self.err("DH203", f"{what} must be a string in double quotes", e.span)
        return None

    def template(self, e: n.Expr, what: str) -> TemplateStr | None:
        s = self.string(e, what)
        if s is None:
            return None
        return TemplateStr(s, e.span, self.src.text[e.span.start + 1:e.span.end - 1])

    def int_literal(self, e: n.Expr, what: str, minimum: int = 1) -> int | None:
        if isinstance(e, n.Num) and isinstance(e.value, int) and not isinstance(e.value, bool):
            if e.value < minimum:
                self.err("DH206", f"{what} must be at least {minimum}, got {e.value}", e.span)
                return None
            return e.value
        self.err("DH203", f"{what} must be a whole number", e.span)
        return None

    def word(self, e: n.Expr, what: str, allowed: tuple[str, ...]) -> str | None:
        value = e.id if isinstance(e, n.Name) else e.value if isinstance(e, n.Str) else None
        if value in allowed:
            return value
        shown = value if isinstance(value, str) else None
        self.err("DH206", f"{what} must be one of {', '.join(allowed)}" + (f", got `{shown}`" if shown else ""),
                 e.span, help=did_you_mean(shown, allowed) if shown else None)
        return None

    def body_entries(self, sec: n.Section, allowed: tuple[str, ...], kind: str,
                     nested: tuple[str, ...] = ("env",)) -> dict[str, n.Stmt]:
        """Check a block's body: known keys, no duplicates, sections only where nested."""
        seen: dict[str, n.Stmt] = {}
        for st in sec.body:
            if st.label is not None:
                self.err("DH013", f"`{st.key} {st.label}` is not a {kind} entry; write `{st.key}: value`",
                         st.span)
                continue
            if st.key not in allowed:
                self.err("DH011", f"unknown key `{st.key}` in {kind}", st.key_span,
                         help=did_you_mean(st.key, allowed) or f"the keys are: {', '.join(allowed)}")
                continue
            if st.key in seen:
                self.err("DH101", f"`{st.key}` is given twice in {kind}", st.key_span,
                         labels=[Label(seen[st.key].key_span, "first given here")])
                continue
            if isinstance(st, n.Section) and st.key not in nested:
                self.err("DH013", f"`{st.key}` needs a value on the same line", st.span)
                continue
            if isinstance(st, n.Entry) and st.key in nested:
                self.err("DH013", f"`{st.key}` takes an indented block of NAME: \"value\" lines", st.value.span)
                continue
            seen[st.key] = st
        return seen

    def env_block(self, sec: n.Section, owner: str) -> tuple[tuple[str, TemplateStr], ...]:
        out: list[tuple[str, TemplateStr]] = []
        seen: dict[str, Span] = {}
        for st in sec.body:
            if isinstance(st, n.Section) or st.label is not None:
                self.err("DH013", "an env entry is `NAME: \"value\"`", st.span)
                continue
            if st.key in seen:
                self.err("DH101", f"environment variable `{st.key}` is given twice in {owner}", st.key_span,
                         labels=[Label(seen[st.key], "first given here")])
                continue
            seen[st.key] = st.key_span
            v = st.value
            if isinstance(v, (n.Num, n.Bool)) or (isinstance(v, n.UnaryOp) and v.op == "-"
                                                 and isinstance(v.operand, n.Num)):
                # Numbers and booleans are accepted and written exactly as in the file.
                text = self.src.text[v.span.start:v.span.end]
                out.append((st.key, TemplateStr(text.replace("{", "{{").replace("}", "}}"), v.span)))
                continue
            t = self.template(v, f"the value of `{st.key}`")
            if t is not None:
                out.append((st.key, t))
        return tuple(out)

    # -- blocks
    def build(self, doc: n.Document) -> Spec | None:
        firsts: dict[tuple[str, str | None], n.Stmt] = {}
        workflow: n.Section | None = None
        space = sample = launch = search = None
        apps: list[AppSpec] = []
        rules: list[RuleSpec] = []
        values = []
        for st in doc.stmts:
            if st.key not in BLOCKS:
                self.err("DH010", f"unknown block `{st.key}`", st.key_span,
                         help=did_you_mean(st.key, BLOCKS) or f"the blocks are: {', '.join(BLOCKS)}")
                continue
            needs_label = st.key in ("workflow", "app", "rule", "values")
            if needs_label and st.label is None:
                self.err("DH013", f"`{st.key}` needs a name: `{st.key} NAME:`", st.key_span)
                continue
            if not needs_label and st.label is not None:
                self.err("DH013", f"`{st.key}` takes no name", st.label_span)
                continue
            if st.key == "values":
                if isinstance(st, n.Section) and not st.body:
                    fanout_builder.empty_values(self, st)
                    continue
            elif st.key in ("sample", "search"):
                if not isinstance(st, n.Entry):
                    self.err("DH013", "`sample` takes its sampler on the same line: `sample: grid(levels=5)`", st.span)
                    continue
            elif not isinstance(st, n.Section):
                self.err("DH013", f"`{st.key}` is a block: write `{st.key}{' ' + st.label if st.label else ''}:` "
                                  "and indent its body on the next lines", st.span)
                continue
            ident = (st.key, st.label) if st.key not in ("workflow",) else ("workflow", None)
            if ident in firsts:
                what = f"{st.key} `{st.label}`" if st.label and st.key != "workflow" else f"`{st.key}` block"
                self.err("DH101", f"duplicate {what}", st.label_span or st.key_span,
                         labels=[Label(firsts[ident].label_span or firsts[ident].key_span, "first defined here")],
                         help="names must be unique in their kind" if st.key != "workflow" else "a file defines exactly one workflow")
                continue
            firsts[ident] = st
            if st.key == "workflow":
                workflow = st
            elif st.key == "space":
                space = st
            elif st.key == "sample":
                sample = st
            elif st.key == "search":
                search = st
            elif st.key == "launch":
                launch = st
            elif st.key == "app":
                apps.append(self.app(st))
            elif st.key == "rule":
                rules.append(self.rule(st))
            elif st.key == "values":
                values.append(fanout_builder.build_values(self, st))

        if workflow is None:
            self.err("DH012", "no `workflow NAME:` block", Span.point(1, 1),
                     help="start the file with `workflow my_sweep:`")
        if not rules and not any(d.code == "DH010" for d in self.diags):
            self.err("DH012", "no `rule NAME:` block: a workflow needs at least one rule", Span.point(1, 1))
        description, objective, directions = "", "maximize", ()
        if workflow is not None:
            body = self.body_entries(workflow, WORKFLOW_KEYS, "workflow", nested=())
            if "description" in body:
                description = self.string(body["description"].value, "description") or ""
            if "objective" in body:
                directions = directions_of(self, body["objective"].value)
                objective = directions[0][0] if directions else "maximize"
        params = self.space(space) if space is not None else ()
        sampler = self.sampler(sample.value) if sample is not None else None
        launch_spec = self.launch(launch) if launch is not None else None
        if workflow is None:
            return None
        return Spec(self.src, workflow.label, workflow.label_span, description, objective, params, sampler,
                    tuple(apps), tuple(rules), launch_spec, has_space=space is not None,
                    search=search_of(self, search.value) if search is not None else None,
                    has_search=search is not None,
                    directions=directions if len(directions) > 1 else (),
                    values=tuple(v for v in values if v is not None))

    def space(self, sec: n.Section) -> tuple[Param, ...]:
        params: list[Param] = []
        seen: dict[str, Span] = {}
        for st in sec.body:
            if isinstance(st, n.Section) or st.label is not None:
                self.err("DH013", "a parameter is `name: int(lo, hi)`, `real(...)`, `choice(...)` or a constant",
                         st.span)
                continue
            if st.key in seen:
                self.err("DH101", f"duplicate parameter `{st.key}`", st.key_span,
                         labels=[Label(seen[st.key], "first defined here")])
                continue
            seen[st.key] = st.key_span
            p = self.param(st)
            if p is not None:
                params.append(p)
        return tuple(params)

    def _const(self, e: n.Expr):
        if isinstance(e, (n.Num, n.Str, n.Bool)):
            return e.value
        if isinstance(e, n.UnaryOp) and e.op == "-" and isinstance(e.operand, n.Num):
            return -e.operand.value
        return None

    def param(self, st: n.Entry) -> Param | None:
        e = st.value
        name = st.key
        const = self._const(e)
        if const is not None:
            return Param(name, "const", st.key_span, e.span, values=(const,))
        if not isinstance(e, n.Call):
            self.err("DH204", f"`{name}` must be int(lo, hi), real(lo, hi), choice(...) or a literal", e.span)
            return None
        if e.func == "choice":
            if e.kwargs:
                self.err("DH204", "choice() takes no keyword arguments", e.kwargs[0].span)
            if not e.args:
                self.err("DH204", f"choice() for `{name}` needs at least one value", e.span)
                return None
            values, seen_values = [], set()
            for a in e.args:
                v = self._const(a)
                if v is None:
                    self.err("DH204", "choice() values must be numbers, strings or booleans", a.span)
                    return None
                if (type(v), v) in seen_values:  # a set: 50,000 values are checked in linear time
                    self.err("DH204", f"choice() value `{a.span and self.src.text[a.span.start:a.span.end]}` is repeated",
                             a.span)
                    return None
                values.append(v)
                seen_values.add((type(v), v))
            return Param(name, "choice", st.key_span, e.span, values=tuple(values))
        if e.func in ("int", "real"):
            if e.kwargs:
                self.err("DH204", f"{e.func}() takes no keyword arguments", e.kwargs[0].span)
                return None
            log = False
            args = list(e.args)
            if len(args) == 3 and isinstance(args[2], n.Name) and args[2].id == "log":
                log = True
                args = args[:2]
            if len(args) != 2:
                self.err("DH204", f"{e.func}() takes (lo, hi) or (lo, hi, log)", e.span)
                return None
            bounds = []
            for a in args:
                v = self._const(a)
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    self.err("DH203", f"{e.func}() bounds must be numbers", a.span)
                    return None
                if e.func == "int" and not isinstance(v, int):
                    self.err("DH203", "int() bounds must be whole numbers", a.span,
                             help="use real(lo, hi) for a continuous parameter")
                    return None
                bounds.append(v)
            lo, hi = bounds
            if not lo < hi:
                self.err("DH201", f"`{name}` lower bound must be below the upper bound", e.span,
                         help=f"write {e.func}({self._num_text(hi)}, {self._num_text(lo)}{', log' if log else ''})" if lo > hi else "use a constant for a single value")
                return None
            if log and lo <= 0:
                self.err("DH202", f"`{name}` is log-scaled, so its lower bound must be > 0", args[0].span,
                         help="log scale needs 0 < lo < hi")
                return None
            return Param(name, e.func, st.key_span, e.span, lo=lo, hi=hi, log=log)
        self.err("DH204", f"unknown domain `{e.func}` for `{name}`", e.func_span,
                 help=did_you_mean(e.func, ("int", "real", "choice")) or "use int(lo, hi), real(lo, hi) or choice(...)")
        return None

    @staticmethod
    def _num_text(v) -> str:
        return repr(v) if isinstance(v, float) else str(v)

    def sampler(self, e: n.Expr) -> SamplerSpec | None:
        found = known_call(self, e, SAMPLERS, "DH205", "sampler", lambda fname: (
            did_you_mean(fname, SAMPLERS) if fname else None)
            or "use grid(levels=N), random(count=N, seed=S), lhs(count=N, seed=S) or points(\"file\")")
        if found is None:
            return None
        e, where, whole = found
        kw = {k.name: k for k in e.kwargs}
        expected = {"grid": ("levels",), "random": ("count", "seed"), "lhs": ("count", "seed"), "points": ()}[e.func]
        if not keywords_known(self, e, expected, "DH205"):
            return None
        if e.func == "points":
            if len(e.args) != 1 or not isinstance(e.args[0], n.Str) or e.kwargs:
                self.err("DH205", 'points() takes one file name: points("points.csv")', e.span)
                return None
            path = e.args[0].value
            if not path.lower().endswith((".csv", ".json")):
                self.err("DH205", "points() reads a .csv or a .json file", e.args[0].span)
                return None
            return SamplerSpec("points", whole.span, path=path, path_span=e.args[0].span, where=where)
        if e.args:
            self.err("DH205", f"{e.func}() takes keyword arguments: {', '.join(k + '=...' for k in expected)}",
                     e.args[0].span)
            return None
        values = {}
        for name in expected:
            if name not in kw:
                self.err("DH205", f"{e.func}() needs `{name}=`", e.span)
                return None
            values[name] = self.int_literal(kw[name].value, f"`{name}`", minimum=0 if name == "seed" else 1)
            if values[name] is None:
                return None
        return SamplerSpec(e.func, whole.span, levels=values.get("levels"), count=values.get("count"),
                           seed=values.get("seed"), where=where)

    def app(self, sec: n.Section) -> AppSpec:
        body = self.body_entries(sec, APP_KEYS, f"app `{sec.label}`")
        get = lambda k: self.template(body[k].value, f"`{k}`") if k in body else None  # noqa: E731
        exe = get("executable")
        if "executable" not in body:
            self.err("DH012", f"app `{sec.label}` needs an `executable:`", sec.label_span)
        desc = self.string(body["description"].value, "description") if "description" in body else ""
        env = self.env_block(body["env"], f"app `{sec.label}`") if "env" in body else ()
        return AppSpec(sec.label, sec.label_span, exe, get("args"), get("envscript"), get("preprocess"),
                       get("postprocess"), desc or "", env)

    def rule(self, sec: n.Section) -> RuleSpec:
        name = sec.label
        body = self.body_entries(sec, RULE_KEYS, f"rule `{name}`")
        foreach, foreach_span, dims = False, None, ()
        if "foreach" in body:
            foreach, foreach_span, dims = fanout_builder.rule_foreach(self, body["foreach"].value)
        after: list[tuple[str, Span]] = []
        if "after" in body:
            v = body["after"].value
            items = v.items if isinstance(v, n.TupleExpr) else (v,)
            listed: set[str] = set()
            for it in items:
                if isinstance(it, n.Name):
                    if it.id in listed or listed.add(it.id):
                        self.err("DH101", f"rule `{it.id}` is listed twice in `after`", it.span)
                    else:
                        after.append((it.id, it.span))
                else:
                    self.err("DH203", "`after` lists rule names: `after: a, b`", it.span)
        app = None
        if "app" in body:
            v = body["app"].value
            if isinstance(v, n.Name):
                app = (v.id, v.span)
            else:
                self.err("DH203", "`app` takes an app name", v.span)
        shell = self.template(body["shell"].value, "`shell`") if "shell" in body else None
        if "app" in body and "shell" in body:
            self.err("DH208", f"rule `{name}` has both `app` and `shell`", body["shell"].key_span,
                     labels=[Label(body["app"].key_span, "app given here")])
        elif "app" not in body and "shell" not in body:
            self.err("DH208", f"rule `{name}` needs `app: NAME` or `shell: \"command\"`", sec.label_span)
        args = self.template(body["args"].value, "`args`") if "args" in body else None
        if shell is not None and args is not None:
            self.err("DH208", "a `shell` rule takes no `args`: put them in the shell command", body["args"].key_span)
        resources = tuple((k, body[k].value) for k in body if k in RESOURCE_KEYS)
        cpu_affinity = "none"
        if "cpu_affinity" in body:
            cpu_affinity = self.word(body["cpu_affinity"].value, "cpu_affinity", ("none", "depth")) or "none"
        retry = True
        if "retry_on_timeout" in body:
            v = body["retry_on_timeout"].value
            if isinstance(v, n.Bool):
                retry = v.value
            else:
                self.err("DH203", "`retry_on_timeout` takes true or false", v.span)
        env = self.env_block(body["env"], f"rule `{name}`") if "env" in body else ()
        objectives = objectives_of(self, body["objective"].value) if "objective" in body else ()
        objective = objectives[0] if objectives else None
        if objective is not None and not foreach:
            self.err("DH209", f"`objective` needs `foreach: space` (rule `{name}` runs one task)",
                     body["objective"].key_span)
        return RuleSpec(name, sec.label_span, foreach, foreach_span, tuple(after), app, shell, args, resources,
                        cpu_affinity, retry, env, objective, objectives if len(objectives) > 1 else (),
                        dims=dims, **fanout_builder.rule_files(self, body))

    def objective(self, e: n.Expr) -> ObjectiveSpec | None:
        forms = {"stdout": 1, "data": 1, "file": 2}
        if not isinstance(e, n.Call) or e.func not in forms:
            fname = e.func if isinstance(e, n.Call) else None
            self.err("DH207", "an objective is stdout(\"MARKER\"), data(\"key\") or file(\"path\", \"key\")",
                     e.func_span if isinstance(e, n.Call) else e.span,
                     help=did_you_mean(fname, forms) if fname else None)
            return None
        if e.kwargs or len(e.args) != forms[e.func] or not all(isinstance(a, n.Str) and a.value for a in e.args):
            self.err("DH207", f"{e.func}() takes {forms[e.func]} non-empty string argument(s)", e.span)
            return None
        vals = [a.value for a in e.args]
        if e.func == "stdout":
            return ObjectiveSpec("stdout", e.span, marker=vals[0])
        if e.func == "data":
            return ObjectiveSpec("data", e.span, key=vals[0])
        return ObjectiveSpec("file", e.span, path=vals[0], key=vals[1])

    def launch(self, sec: n.Section) -> LaunchSpec:
        body = self.body_entries(sec, LAUNCH_KEYS, "launch", nested=())
        s = lambda k: self.string(body[k].value, f"`{k}`") if k in body else None  # noqa: E731
        scheduler = self.word(body["scheduler"].value, "scheduler", SCHEDULERS) if "scheduler" in body else None
        job_mode = self.word(body["job_mode"].value, "job_mode", JOB_MODES) if "job_mode" in body else None
        nodes = self.int_literal(body["nodes"].value, "launch `nodes`") if "nodes" in body else None
        wall = self.int_literal(body["wall_time"].value, "launch `wall_time`") if "wall_time" in body else None
        return LaunchSpec(sec.key_span, scheduler, s("project"), s("queue"), nodes,
                          body["nodes"].value.span if "nodes" in body else None, wall,
                          body["wall_time"].value.span if "wall_time" in body else None, job_mode,
                          s("sched_flags"), s("setup"))


def build_spec(src: SourceFile, doc: n.Document) -> tuple[Spec | None, list[Diagnostic]]:
    """Turn the AST into a Spec, with every structural diagnostic found."""
    b = _Builder(src)
    spec = b.build(doc)
    return spec, b.diags
