"""Fingerprints of the parts of a task's definition (stored with each job), to say what changed.

:func:`task_parts` gives a task's parts; :class:`PartsMaker` gives the same for the tasks of
a plan, formatting once what they share (and their JSON, as stored in a job's data).
"""
from __future__ import annotations

import hashlib

from json.encoder import encode_basestring_ascii as _json_str

from dhflow.compiler.jsonfast import canonical
from dhflow.reconcile import code as _code
from dhflow.target import JOB_RESOURCE_FIELDS


def _h(obj) -> str:
    return hashlib.sha256(canonical(obj).encode()).hexdigest()[:16]


def _h_str(text) -> str:
    """`_h` of a string (or None), without the generic encoder's overhead."""
    if not isinstance(text, str):
        return _h(text)
    return hashlib.sha256(_json_str(text).encode()).hexdigest()[:16]


def _h_sorted_strings(items: list[str], piece: int = 4096) -> str:
    """`_h(items)` of a list of strings, hashed a piece at a time: canonical JSON of a list
    is its items' JSON strings between brackets, joined by commas."""
    h = hashlib.sha256(b"[")
    for i in range(0, len(items), piece):
        h.update(((b"," if i else b"") + ",".join(map(_json_str, items[i:i + piece])).encode()))
    h.update(b"]")
    return h.hexdigest()[:16]


def upstream_fingerprint(parent_keys) -> str:
    """The `upstream` part of a task whose parents have these content keys, as
    :func:`task_parts` gives it (a big gather's keys hashed a piece at a time)."""
    keys = sorted(parent_keys)
    return _h_sorted_strings(keys) if len(keys) > 1000 else _h(keys)


def task_parts(task: dict, keys_by_name: dict[str, str], apps: dict[str, dict]) -> dict[str, str]:
    """Short fingerprints of each part of a task's definition (stored with its job)."""
    return {
        "command": _h(task.get("args")),
        "app": _h(apps.get(task.get("app"), task.get("app"))),
        "resources": _h([task.get(k) for k in JOB_RESOURCE_FIELDS]),
        "env": _h(task.get("environ_vars") or {}),
        "objective": _h(task.get("objective")),
        "upstream": _h(sorted(keys_by_name.get(p, p) for p in task.get("parents") or [])),
    }


class PartsMaker:
    """`task_parts` for the tasks of one plan, memoising the parts that tasks share.

    A 100k-task sweep has one app, a handful of resource combinations, one environment and
    one objective source: only the command (and one-to-one upstreams) differ per task.
    Gives exactly what :func:`task_parts` gives.
    """

    def __init__(self, plan: dict, keys_by_name: dict[str, str] | None = None):
        self.code = _code.CodeParts(plan)
        # keys_by_name: given by a streaming writer that fills it as tasks go by (parents
        # come before their children); else built from plan["tasks"] on first use
        self._keys: dict[str, str] | None = keys_by_name
        self._plan = plan
        self._apps = {a["name"]: a for a in plan.get("apps", [])}
        self._cache: dict = {}

    def _keys_by_name(self) -> dict[str, str]:
        if self._keys is None:
            self._keys = {t["name"]: t["key"] for t in self._plan["tasks"]}
        return self._keys

    def _upstream(self, parents) -> str:
        """The fingerprint of the parents' keys (memoised for the common single parent)."""
        if not parents:  # (most tasks: memoised, no name -> key map needed)
            h_none = self._cache.get("u0")
            if h_none is None:
                h_none = self._cache["u0"] = _h([])
            return h_none
        keys = self._keys_by_name()
        if len(parents) != 1:  # (a big gather: no million-key JSON text held at once)
            return upstream_fingerprint([keys.get(p, p) for p in parents])
        k_up = ("u", parents[0])
        h_up = self._cache.get(k_up)
        if h_up is None:
            h_up = self._cache[k_up] = _h([keys.get(parents[0], parents[0])])
        return h_up

    def __call__(self, task: dict) -> dict[str, str]:
        c = self._cache
        app = task.get("app")
        k_app = ("a", app)
        h_app = c.get(k_app)
        if h_app is None:
            h_app = c[k_app] = _h(self._apps.get(app, app))
        # plan fields have fixed types (ints, a str, a bool), so equal tuples fingerprint equally
        res = tuple([task.get(k) for k in JOB_RESOURCE_FIELDS])
        k_res = ("r", res)
        h_res = c.get(k_res)
        if h_res is None:
            h_res = c[k_res] = _h(list(res))
        # environments and objective specs are usually one shared object per rule: memoise by
        # identity (the entry keeps the object alive, so its id cannot be reused meanwhile)
        env = task.get("environ_vars") or {}
        hit = c.get(("e", id(env)))
        if hit is None:
            hit = c[("e", id(env))] = (env, _h(env))
        h_env = hit[1]
        obj = task.get("objective")
        hit = c.get(("o", id(obj)))
        if hit is None:
            hit = c[("o", id(obj))] = (obj, _h(obj))
        h_obj = hit[1]
        h_up = self._upstream(task.get("parents") or ())
        return {"command": _h_str(task.get("args")), "app": h_app, "resources": h_res, "env": h_env,
                "objective": h_obj, "upstream": h_up, **self.code(task)}

    def json(self, task: dict) -> str:
        """``compact(self(task))`` (the JSON stored in the job's data), built directly: the
        parts that tasks share are formatted once per combination."""
        h_up = self._upstream(task.get("parents") or ())
        code = self.code(task)
        tail = "".join(f',"{k}":"{v}"' for k, v in code.items()) if code else ""
        return '{"command":"' + _h_str(task.get("args")) + self._json_mid(task) + h_up + '"' + tail + '}'

    def _json_mid(self, task: dict) -> str:
        """The JSON of the parts from app to objective, and the start of upstream."""
        c = self._cache
        env = task.get("environ_vars") or {}
        obj = task.get("objective")
        k = ("j", task.get("app"), tuple([task.get(k) for k in JOB_RESOURCE_FIELDS]), id(env), id(obj))
        mid = c.get(k)
        if mid is None:
            p = self(task)  # also memoises env and objective by identity (keeping them alive)
            mid = c[k] = (f'","app":"{p["app"]}","resources":"{p["resources"]}","env":"{p["env"]}",'
                          f'"objective":"{p["objective"]}","upstream":"')
        return mid

    def json_of_class(self, task: dict):
        """:meth:`json` for the tasks that share ``task``'s app, resources, environment and
        objective (the caller groups them): what they share is formatted once, here."""
        mid = self._json_mid(task)
        upstream, code_of = self._upstream, self.code
        here = code_of.here
        app_tail = "".join(f',"{k}":"{v}"' for k, v in code_of({"app": task.get("app"), "args": ""}).items())

        last_up = ["", ""]  # (a single parent, its fingerprint): the tasks of a scatter share it

        def json_of(t: dict) -> str:
            args = t.get("args")
            if here and args and here in args:  # the command names code of its own
                tail = "".join(f',"{k}":"{v}"' for k, v in code_of(t).items())
            else:
                tail = app_tail
            parents = t.get("parents") or ()
            if len(parents) != 1:
                h_up = upstream(parents)
            else:
                if parents[0] != last_up[0]:
                    last_up[:] = parents[0], upstream(parents)
                h_up = last_up[1]
            return '{"command":"' + _h_str(args) + mid + h_up + '"' + tail + '}'

        return json_of


def plan_parts(plan: dict) -> dict[str, dict[str, str]]:
    """task name -> task_parts, for every task of a plan dict."""
    make = PartsMaker(plan)
    return {t["name"]: make(t) for t in plan["tasks"]}
