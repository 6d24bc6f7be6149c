"""The audit.record(...) / audit.record_new(...) calls of the code, read from its source (ast): the
actions they write and the details they give. tests/test_audit_log.py checks each has its French."""

import ast
from pathlib import Path

from backoffice.models import PartnerRole

ROOT = Path(__file__).resolve().parents[1]


RECORDERS = ("record", "record_new")  # services/audit's functions that write an entry


def record_calls():
    """Every audit.record(...) / audit.record_new(...) call of both front ends and the services:
    (where, action names, detail names). An action is a literal, a literal `a if … else b`, an
    f-string over a partner account's role (« manager.create », « technician.create »), or a
    parameter of a helper of the same module, resolved at each of the helper's calls."""
    calls = []
    for folder in ("backoffice", "partner_portal"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            calls += module_record_calls(ast.parse(path.read_text(encoding="utf-8")), str(path.relative_to(ROOT)))
    return calls


def module_record_calls(tree, module):
    """The record calls of one module (its source's tree)."""

    def keys_of(call, skip=()):
        keys = {k.arg for k in call.keywords if k.arg} - {"actor", "target", "caisse_id", *skip}
        for k in call.keywords:
            if k.arg is None and isinstance(k.value, ast.Dict):
                keys |= {key.value for key in k.value.keys if isinstance(key, ast.Constant)}
        return keys

    def names(node, where, bound):
        """The action names of `node`; `bound`: a helper's parameter → its literal names."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.IfExp):
            return names(node.body, where, bound) | names(node.orelse, where, bound)
        if isinstance(node, ast.Name) and node.id in bound:
            return bound[node.id]
        if isinstance(node, ast.JoinedStr):
            results = {""}
            for part in node.values:
                if isinstance(part, ast.Constant):
                    options = {part.value}
                elif ast.unparse(part.value).endswith(("role", "role.value")):
                    options = {r.value for r in PartnerRole}
                else:
                    options = names(part.value, where, bound)
                results = {r + o for r in results for o in options}
            return results
        raise AssertionError(f"{where}: write the audit action as a literal, not {ast.unparse(node)}")

    def needed(node):
        """The names `names` would look up in a helper's parameters."""
        if isinstance(node, ast.Name):
            return {node.id}
        if isinstance(node, ast.IfExp):
            return needed(node.body) | needed(node.orelse)
        if isinstance(node, ast.JoinedStr):
            parts = [p.value for p in node.values if isinstance(p, ast.FormattedValue)]
            return set().union(*(needed(p) for p in parts if not ast.unparse(p).endswith(("role", "role.value"))))
        return set()

    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}

    def enclosing_function(node):
        while node in parents:
            node = parents[node]
            if isinstance(node, ast.FunctionDef):
                return node
        return None

    found = []
    for node in ast.walk(tree):
        func = getattr(node, "func", None)
        if not (isinstance(node, ast.Call) and isinstance(func, ast.Attribute) and func.attr in RECORDERS):
            continue
        if not (isinstance(func.value, ast.Name) and func.value.id == "audit"):
            continue
        where = f"{module}:{node.lineno}"
        helper = enclosing_function(node)
        parameters = [a.arg for a in helper.args.args] if helper else []
        used = needed(node.args[0])
        used &= set(parameters)
        if not used:
            found.append((where, names(node.args[0], where, {}), keys_of(node)))
            continue
        # a helper taking the action (or part of it) as a parameter: resolved at each of its calls
        sites = [c for c in ast.walk(tree) if isinstance(c, ast.Call) and getattr(c.func, "id", None) == helper.name]
        assert sites, f"{where}: {helper.name} is never called in its module"
        for site in sites:
            bound = {}
            for name in used:
                index = parameters.index(name)
                argument = (
                    site.args[index]
                    if index < len(site.args)
                    else next(k.value for k in site.keywords if k.arg == name)
                )
                bound[name] = names(argument, f"{module}:{site.lineno}", {})
            keys = keys_of(node) | keys_of(site, skip=parameters)
            found.append((f"{module}:{site.lineno}", names(node.args[0], where, bound), keys))
    return found
