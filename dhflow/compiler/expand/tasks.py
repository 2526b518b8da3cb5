"""Spec + points -> Plan: one task per (rule, point), resources evaluated, templates
rendered, dependencies wired, content keys computed.

Resource rules are evaluated for every point; the first point that gives a bad value is
reported (naming the rule, the key and the point) and the rest of that key is skipped.
"""
from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any, Iterator

import networkx as nx

from dhflow.compiler.check.rules.dependencies import rule_graph
from dhflow.compiler.diagnostics import WARNING, Diagnostic, DiagnosticError, Label
from dhflow.compiler.lang.expressions import CompiledExpr, EvalError, format_value, type_name
from dhflow.compiler.jsonfast import canonical, compact, compact_point
from dhflow.compiler.jsonfast import ascii_string as _ascii_str
from dhflow.compiler.plan.model import App, Plan, Task, content_key, content_key_text
from dhflow.compiler.check.model import RESOURCE_KEYS, AppSpec, RuleSpec, Spec, TemplateStr
from dhflow.compiler.lang.templates import POINT_COMPACT, Field, parse_template, render, shell_safe
from dhflow.compiler.check.rules.templates import inner_span
from dhflow.compiler.expand import combinations
from dhflow.compiler.expand.file_fields import RuleFiles
from dhflow.compiler.expand.budget import check_plan
from dhflow.compiler.limits import Limits
from dhflow.compiler.limits import current as current_limits
from dhflow.target import ENV_SEPARATOR, resource_fits, serial_fits, survives_command_line

SHELL_EXECUTABLE = "/bin/sh -c"


def task_name(rule: RuleSpec, index: int | None) -> str:
    return rule.name if index is None else f"{rule.name}.{index}"


def _point_label(index: int, point: dict) -> str:
    vals = ", ".join(f"{k}={format_value(v)}" for k, v in point.items())
    return f"point {index} ({vals})"


class RuleExpander:
    """Everything one rule needs, prepared once, then applied per point."""

    def __init__(self, spec: Spec, rule: RuleSpec, app_name: str, app: AppSpec | None, diags: list[Diagnostic]):
        self.spec, self.rule, self.diags = spec, rule, diags
        self.app_name = app_name
        self.here = spec.source.here
        self.resources = [(k, CompiledExpr(e), e) for k, e in rule.resources]
        self.read_params = tuple(sorted({n for _, fn, _ in self.resources for n in fn.names}
                                        & ({p.name for p in spec.params} | set(rule.value_dims))))
        self.files = RuleFiles(rule)
        self._memo: dict[tuple, dict[str, int]] = {}
        self._envs: dict[tuple, dict[str, str]] = {}
        self._keys_seen: set[str] = set()
        self._repeats: dict[str, int] = {}  # key -> occurrences, for the keys seen more than once
        self._env_texts: dict[int, str] = {}
        self._res_texts: dict[int, str] = {}
        self.key_prefix = ""  # set by iter_tasks once the app's digest is known
        self.bad_keys: set[str] = set()
        self.warned: set[tuple] = set()
        if rule.shell is not None:
            self.args_t: TemplateStr | None = rule.shell
        else:
            self.args_t = rule.args if rule.args is not None else (app.args if app else None)
        self.args_parts = parse_template(self.args_t.text)[0] if self.args_t else ()
        self.args_what = "shell" if rule.shell is not None else "args"
        # args without a field that _render may warn about (the point's own fields are safe)
        self.args_plain = not any(isinstance(p, Field) and p.name != "point" for p in self.args_parts)
        self.base_ctx = {"workflow": spec.workflow, "rule": rule.name, "here": self.here,
                         "cpu_affinity": rule.cpu_affinity}
        env: dict[str, TemplateStr] = dict(app.env) if app else {}
        env.update(dict(rule.env))
        self.env = [(k, t, parse_template(t.text)[0]) for k, t in env.items()]
        # the environment is rendered once per combination of the values it reads (once for
        # the usual constant one); not when it reads the point itself (a dict: unhashable)
        env_fields = {p.name for _, _, parts in self.env for p in parts if isinstance(p, Field)}
        self.env_reads = None if "point" in env_fields else tuple(sorted(env_fields))
        self._env_memo: dict[tuple, dict[str, str]] = {}
        self.as_dicts = False  # set by iter_tasks: make task dicts (Task.to_dict()) instead of Tasks
        self.objective = objective_dict(rule)
        self.app_digest = ""
        launch = spec.launch
        self.max_nodes = launch.nodes if launch else None
        self.max_wall = launch.wall_time if launch else None
        self.serial = bool(launch and launch.job_mode == "serial")

    def point_label(self, index: int | None, point: dict | None) -> str:
        """How messages name the task a value is wrong for (the space check names a point)."""
        return _point_label(index, point) if index is not None else "its task"

    def _bad(self, key: str, index: int | None, point: dict | None, msg: str, span) -> None:
        self.bad_keys.add(key)
        where = f"for {self.point_label(index, point)}"
        self.diags.append(Diagnostic("DH404", f"`{key}` of rule `{self.rule.name}` {msg} {where}", span,
                                     help="resource values must be whole numbers >= 1"))

    def resources_for(self, index: int | None, point: dict | None) -> dict[str, int] | None:
        """The rule's resource values for a point, memoised on the parameters they read."""
        if point is None:
            return self._resources_for(index, point)
        try:
            key = tuple((type(point[k]), point[k]) for k in self.read_params)
        except KeyError:
            return self._resources_for(index, point)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._resources_for(index, point)
            if hit is None:
                return None
            self._memo[key] = hit
        return hit

    def _resources_for(self, index: int | None, point: dict | None) -> dict[str, int] | None:
        values = {k: 1 for k in RESOURCE_KEYS}
        env = dict(point) if point else {}
        env.update({k: 1 for k in RESOURCE_KEYS if k not in dict(self.rule.resources)})
        ok = True
        for key, fn, expr in self.resources:
            # A key already reported bad stands in as its default, so that the keys below
            # it are still checked (and not reported as failing because of it).
            env[key] = 1
            if key in self.bad_keys:
                ok = False
                continue
            try:
                v = fn(env)
            except EvalError as exc:
                self.bad_keys.add(key)
                where = self.point_label(index, point)
                self.diags.append(Diagnostic("DH407", f"`{key}` of rule `{self.rule.name}` cannot be evaluated "
                                                      f"for {where}: {exc.message}", exc.span))
                ok = False
                continue
            if isinstance(v, bool) or not isinstance(v, int):
                self._bad(key, index, point, f"gives {format_value(v)} ({type_name(v)}, not a whole number)",
                          expr.span)
                ok = False
                continue
            if not resource_fits(v):  # 1 .. Balsam's 32-bit columns
                self._bad(key, index, point, f"gives {v}", expr.span)
                ok = False
                continue
            env[key] = v
            values[key] = v
        if not ok:
            return None
        if self.max_nodes is not None and values["nodes"] > self.max_nodes and "nodes>" not in self.bad_keys:
            self.bad_keys.add("nodes>")
            span = dict((k, e) for k, _, e in self.resources).get("nodes", self.rule.span).span \
                if "nodes" in dict(self.rule.resources) else self.rule.span
            where = self.point_label(index, point)
            self.diags.append(Diagnostic(
                "DH405", f"rule `{self.rule.name}` needs {values['nodes']} nodes for {where}, "
                         f"but the launcher has {self.max_nodes}", span,
                labels=(Label(self.spec.launch.nodes_span, "launcher nodes"),) if self.spec.launch.nodes_span else (),
                help="raise `nodes` in `launch:` or lower the rule's `nodes`"))
            return None
        if self.serial and not serial_fits(values["nodes"], values["ranks_per_node"]) \
                and "serial" not in self.bad_keys:
            self.bad_keys.add("serial")
            key = "nodes" if values["nodes"] > 1 else "ranks_per_node"
            span = next((e.span for k, _, e in self.resources if k == key), self.rule.span)
            where = self.point_label(index, point)
            self.diags.append(Diagnostic(
                "DH410", f"rule `{self.rule.name}` needs {values['nodes']} node(s) x {values['ranks_per_node']} "
                         f"rank(s) for {where}, but `job_mode: serial` runs only 1-node, 1-rank tasks", span,
                help="use `job_mode: mpi` in `launch:`, or keep nodes and ranks_per_node at 1"))
            return None
        if self.max_wall is not None and values["wall_time"] > self.max_wall and "wall>" not in self.warned:
            self.warned.add("wall>")
            span = next((e.span for k, _, e in self.resources if k == "wall_time"), self.rule.span)
            where = self.point_label(index, point)
            self.diags.append(Diagnostic(
                "DH406", f"rule `{self.rule.name}` asks {values['wall_time']} minutes for {where}, "
                         f"more than the launcher's {self.max_wall}", span, severity=WARNING))
        return values

    def _render(self, what: str, t: TemplateStr, parts, ctx: dict, command: bool = True) -> str:
        for p in parts:
            if not isinstance(p, Field) or p.name == "point" or (what, p.start) in self.warned:
                continue
            v = ctx[p.name]
            if not isinstance(v, str):
                continue
            if command and p.fmt is None and not shell_safe(v):
                self.warned.add((what, p.start))
                self.diags.append(Diagnostic(
                    "DH408", f"`{{{p.name}}}` = {v!r} is not shell-safe as a raw value in {what}",
                    inner_span(t, p.start, p.end), severity=WARNING,
                    help=f"write {{{p.name}:quote}} to pass it as one argument"
                    if survives_command_line(v) else "pass it inside {point:json}, which keeps every character"))
            elif command and p.fmt == "quote" and not survives_command_line(v):
                self.warned.add((what, p.start))
                self.diags.append(Diagnostic(
                    "DH408", f"`{{{p.name}:quote}}` = {v!r} will not reach the program intact: Balsam "
                             "collapses whitespace runs and expands `~` in its command lines",
                    inner_span(t, p.start, p.end), severity=WARNING,
                    help="pass it inside {point:json}, which keeps every character"))
        return render(parts, ctx)

    def _render_env(self, ctx: dict) -> dict[str, str] | None:
        """The task's environment (one shared dict per distinct environment); None after DH211."""
        env: dict[str, str] = {}
        for k, t, parts in self.env:
            v = self._render(f"env {k}", t, parts, ctx, command=False)
            if ENV_SEPARATOR in v and ("env:", k) not in self.warned:
                self.warned.add(("env:", k))
                self.diags.append(Diagnostic("DH211", f"environment value of `{k}` contains `:` after rendering "
                                                      f"({v!r}), which Balsam cannot store", t.span))
                return None
            env[k] = v
        # Tasks with the same environment share one dict (memory of 100k-task plans).
        return self._envs.setdefault(tuple(env.items()), env)

    def task(self, index: int | None, point: dict | None, parents: tuple[str, ...], parent_keys,
             combo: tuple | None = None) -> Task | None:
        values = combo[2] if combo is not None else None
        res = self.resources_for(index, point if values is None else {**(point or {}), **values})
        if res is None:
            return None
        name = task_name(self.rule, index) if values is None else combinations.task_name(self.rule, combo)
        ctx: dict[str, Any] = self.base_ctx.copy()
        ctx["task"] = name
        ctx.update(res)
        point_text = "null"
        if point is not None:
            ctx.update(point)
            ctx["point"] = point
            ctx["index"] = index
            point_text = ctx[POINT_COMPACT] = compact_point(point)  # by {point:json}, the key, the row
        if values is not None:
            ctx.update(values)
        if not self.args_t:
            args = ""
        elif self.args_plain:
            args = render(self.args_parts, ctx)
        else:
            args = self._render(self.args_what, self.args_t, self.args_parts, ctx)
        if self.rule.shell is not None:
            args = shlex.quote(args)
        reads = self.env_reads
        # floats by their repr: -0.0 == 0.0 (and hash alike) but render differently
        ekey = None if reads is None else tuple([(type(v), repr(v) if isinstance(v, float) else v)
                                                 for v in (ctx[f] for f in reads)])
        env = self._env_memo.get(ekey) if ekey is not None else None
        if env is None:
            env = self._render_env(ctx)
            if env is None:
                return None
            if ekey is not None and not any(ENV_SEPARATOR in v for v in env.values()):
                self._env_memo[ekey] = env
        # The key's text is JSON written piece by piece (this runs once per task of huge
        # sweeps): the rule's constant part, then args, environment, resources and point.
        env_text = self._env_texts.get(id(env))
        if env_text is None:
            env_text = self._env_texts[id(env)] = canonical(env)
        res_text = self._res_texts.get(id(res))
        if res_text is None:
            res_text = self._res_texts[id(res)] = canonical([res[k] for k in RESOURCE_KEYS])
        text = (f'{self.key_prefix},"args":{_ascii_str(args)},"env":{env_text},'
                f'"resources":{res_text},"point":{point_text}')
        # v2 parts of the key, only when present: v1 tasks keep their keys byte for byte
        if values is not None:
            text += f',"values":{compact(values)}'
        files = self.files.render(ctx) if self.files.any else ("", "", "", "")
        if self.files.any:
            text += f',"files":{canonical(list(files))}'
        key = content_key_text(text + "}", self.here, parent_keys)
        if key not in self._keys_seen:
            self._keys_seen.add(key)
        else:
            seen = self._repeats.get(key, 1)
            self._repeats[key] = seen + 1
            # A repeated point (a small choice space drawn many times) is still its own task:
            # the second and later occurrences carry their number in the key.
            key = content_key_text(f'{text},"occurrence":{seen}}}', self.here, parent_keys)
        return (Task.dict_of if self.as_dicts else Task)(
                    name, self.rule.name, index, point, self.app_name, args, res["nodes"], res["ranks_per_node"],
                    res["threads_per_rank"], res["threads_per_core"], res["node_packing_count"],
                    self.rule.cpu_affinity, res["wall_time"], self.rule.retry_on_timeout, env, parents,
                    self.objective, key, values, *files)


def objective_dict(rule: RuleSpec) -> dict | None:
    """The plan's `objective` of a rule's tasks: one source, or `several` (one per objective)."""
    if rule.objectives:
        return {"source": "several", "sources": [o.to_dict() for o in rule.objectives]}
    return rule.objective.to_dict() if rule.objective else None


def _static(t: TemplateStr | None, ctx: dict) -> str:
    return render(parse_template(t.text)[0], ctx) if t is not None else ""


def _unsafe_here(spec: Spec) -> Iterator[Diagnostic]:
    """{here} is inserted raw into commands: a directory with spaces or quotes breaks them."""
    here = spec.source.here
    if shell_safe(here):
        return
    for a in spec.apps:
        for what in ("executable", "envscript", "preprocess", "postprocess"):
            t = getattr(a, what)
            if t is None:
                continue
            for f in parse_template(t.text)[1]:
                if f.name == "here":
                    yield Diagnostic("DH408", f"`{{here}}` = {here!r} is not shell-safe in the {what} of app "
                                              f"`{a.name}`", inner_span(t, f.start, f.end), severity=WARNING,
                                     help="move the project to a directory without spaces or quotes")
                    break


def build_apps(spec: Spec) -> tuple[dict[str, App], dict[str, str]]:
    """The apps of the plan (defined apps, then one per shell rule) and each rule's app name."""
    ctx = {"here": spec.source.here, "workflow": spec.workflow}
    apps: dict[str, App] = {}
    for a in spec.apps:
        apps[a.name] = App(a.name, _static(a.executable, ctx), _static(a.envscript, ctx),
                           _static(a.preprocess, ctx), _static(a.postprocess, ctx), a.description)
    rule_app: dict[str, str] = {}
    for r in spec.rules:
        if r.shell is not None:
            name = f"{spec.workflow}.{r.name}"
            apps[name] = App(name, SHELL_EXECUTABLE, description=f"shell rule {r.name} of {spec.workflow}")
            rule_app[r.name] = name
        elif r.app:
            rule_app[r.name] = r.app[0]
    return apps, rule_app


def plan_head(spec: Spec) -> Plan:
    """The plan without its tasks: workflow, objective, apps, launch and source."""
    apps, _ = build_apps(spec)
    launch = spec.launch.to_dict() if spec.launch else None
    path = spec.source.path if spec.source.path.startswith("<") else str(Path(spec.source.path).resolve())
    source = {"path": path, "sha256": spec.source.sha256, "here": spec.source.here}
    # one direction stays a string (every single-objective plan keeps its bytes); several are
    # a list, in the order of the rule's sources, so that `results` can rank Pareto fronts
    objective = [d for d, _ in spec.directions] if spec.directions else spec.objective
    return Plan(spec.workflow, objective, tuple(apps.values()), launch, (), source, spec.description)


def iter_tasks(spec: Spec, points: list[dict], diags: list[Diagnostic], *, stop_on_error: bool = False,
               indices: list[int] | None = None, limits: Limits | None = None,
               as_dicts: bool = False) -> Iterator[Task] | Iterator[dict]:
    """Tasks in topological order (every parent before its children), one at a time.

    Diagnostics are appended to `diags` as they are found. With `stop_on_error` the
    iteration raises DiagnosticError at the first error (a streaming consumer must not go on
    writing a plan that will not compile); otherwise it goes on to report every rule's errors.
    `indices`: the index of each point (a search's trial numbers); 0, 1, 2, ... by default.
    `as_dicts`: yield `Task.to_dict()` of each task (made directly, without the Task).
    """
    try:  # tasks, dependencies and text counted before any is built (compile_* checked already)
        check_plan(spec, len(points), limits or current_limits())
    except DiagnosticError as exc:
        diags.extend(exc.diagnostics)
        if stop_on_error:
            raise
        return
    apps, rule_app = build_apps(spec)
    diags.extend(_unsafe_here(spec))
    g = rule_graph(spec)
    order = {r.name: i for i, r in enumerate(spec.rules)}
    made: dict[str, tuple[list[str], list[str]]] = {}  # rule -> names and keys of its tasks, in order
    for rname in nx.lexicographical_topological_sort(g, key=order.get):
        rule = spec.rule(rname)
        app = spec.app(rule.app[0]) if rule.app else None
        ex = RuleExpander(spec, rule, rule_app[rname], app, diags)
        ex.as_dicts = as_dicts
        ex.app_digest = content_key(apps[rule_app[rname]].to_dict(), spec.source.here, ())
        ex.key_prefix = (f'{{"rule":{_ascii_str(rule.name)},"app":"{ex.app_digest}",'
                         f'"cpu_affinity":{_ascii_str(rule.cpu_affinity)},'
                         f'"retry":{"true" if rule.retry_on_timeout else "false"},'
                         f'"objective":{canonical(ex.objective)}')
        # `after` matches tasks on the dimensions both rules have: one to one, gather, scatter
        deps = [combinations.ParentIndex(spec, spec.rule(d), rule, points, *made.get(d, ([], [])))
                for d, _ in rule.after]
        my_names: list[str] = []
        my_keys: list[str] = []
        failed = False
        for combo in combinations.combos(spec, rule, points):
            if len(deps) == 1:
                parents, pkeys = deps[0].parents(combo[3])
            else:
                parents, pkeys = [], []
                for d in deps:
                    dn, dk = d.parents(combo[3])
                    parents.extend(dn)
                    pkeys.extend(dk)
            if indices is not None and combo[0] is not None:  # a search: the point's trial number
                combo = (indices[combo[0]], *combo[1:])
            t = ex.task(combo[0], combo[1], tuple(parents), pkeys, combo)
            if t is None:
                failed = True
                if stop_on_error:
                    raise DiagnosticError([d for d in diags if d.severity == "error"])
                if ex.bad_keys or any(d.code in ("DH211",) for d in diags[-1:]):
                    break
                continue
            yield t
            if as_dicts:
                my_names.append(t["name"])
                my_keys.append(t["key"])
            else:
                my_names.append(t.name)
                my_keys.append(t.key)
        made[rname] = ([], []) if failed else (my_names, my_keys)


def expand(spec: Spec, points: list[dict]) -> tuple[Plan | None, list[Diagnostic]]:
    """Expand every rule into tasks; return the plan (None if any error) and diagnostics."""
    diags: list[Diagnostic] = []
    tasks = tuple(iter_tasks(spec, points, diags))
    if any(d.severity == "error" for d in diags):
        return None, diags
    head = plan_head(spec)
    return Plan(head.workflow, head.objective, head.apps, head.launch, tasks, head.source, head.description), diags
