"""Derives, from the Rust source, every AWS operation each Lambda binary can call, and checks that
its role in infra/template.yaml allows exactly those (no more, no less), with the conditions the
review asked for. Run by scripts/lint-infra with the tools venv's Python (cfn-lint's decoder
reads the template); `--explain` prints the derivation.

How the operations are derived (no list of them is kept here):

1. aws-adapters, per impl block: every SDK fluent call `self.<field>.<op>(` whose field is an SDK
   client (`aws_sdk_<service>::Client`, read from the struct definitions), following the
   inherent helper methods (`self.list_shards(`) and free functions (`port_error(`) each function
   calls. `<op>` in snake case is the IAM action in Pascal case (`split_shard` →
   `kinesis:SplitShard`; a paginator, `.list_x().into_paginator()`, is still `list_x`). A
   function that `.send()`s without a recognised client call fails the test, so a new way of
   calling the SDK cannot slip past.
2. Per binary, which port traits it may use: the trait bounds in its own source (the handler's
   `where K: Resharder + Sync, ...`), with their supertraits (crates/reconciler/src/ports.rs).
3. Per binary, which port methods it calls: a call graph over the binary, lambda-shell and
   reconciler (test code and `cfg(feature)` modules left out) from every function of the binary;
   a bare call resolves to the same file's function if there is one, `module::f(` to that
   module's, a method call to every function of that name (over-approximating). Every
   `.<method>(` in a reached function that names a method of a trait from 2 is a port call; the
   adapter's implementation of it gives the operations (1). Calls from `main` on the adapters'
   own types (`clients.warm_up()`) count too.
4. One narrowing, written down below with its reason and a guard that fails when the reason
   stops being true: the executor's `call` (reconciler/src/execute.rs) dispatches every planner
   `Step` to its port method, so the call graph reaches split and merge in both binaries; which
   steps a binary can produce depends on which `Execution` it builds (planner/src/step.rs).

The template side: each role's Allow statements, resolved for the default parameters. Besides the
derived operations a role must allow exactly: `logs:CreateLogStream` and `logs:PutLogEvents` on its
function's own log group; `sqs:SendMessage` on the queue its function's on-failure destination
names; `kms:GenerateDataKey*` and `kms:Decrypt` on the key of every encrypted topic it may publish
to. Conditions checked: `aws:TagKeys` (ForAllValues:StringLike, the planner's STATE_TAG_PREFIX + *)
on AddTagsToStream and RemoveTagsFromStream; `cloudwatch:AlarmActions` (ForAllValues:StringLike)
pinned to the alarm topic on PutMetricAlarm; the policy-tag condition on every mutating Kinesis
call; `kms:ViaService` on the key.
"""

import os
import re
import sys

from cfnlint.decode import decode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRATES = os.path.join(ROOT, "crates")
TEMPLATE = os.path.join(ROOT, "infra", "template.yaml")

# Lambda binary → (its crate, its role and log group and invoke config in the template).
BINARIES = {
    "lambda-scale-up": ("ScaleUpRole", "ScaleUpLogGroup", "ScaleUpInvokeConfig"),
    "lambda-scale-down": ("ScaleDownRole", "ScaleDownLogGroup", "ScaleDownInvokeConfig"),
}
# The crates a binary's code can reach (besides its own); aws-adapters is read separately (1).
LIBRARIES = ["lambda-shell", "reconciler"]
# Methods of an SDK client that are not operations.
CLIENT_METHODS = {"clone", "config"}
SERVICE_PREFIX = {"kinesis": "kinesis", "cloudwatch": "cloudwatch", "sns": "sns"}

# 4. Value-gated port calls. The call graph reaches a few port methods in both binaries whose call
# happens only for a value only one of them builds: the executor's `call` (reconciler/src/execute.rs)
# dispatches every planner Step, and which steps exist depends on the Execution built
# (planner/src/step.rs); `rearm` sets alarms to OK only for `Reset::ToOk`. Such a method counts for a binary only if the binary builds the value. Each entry
# is guarded (`check_gates`): the method is called only from `sites`, those are called only from
# `callers` in a binary that does not build the value, and the value is built only where
# `built_in` says (planner values: reached under the planner function named in `reached_as`).
GATES = {
    "merge_shards": dict(sites={"call"}, callers={"call": {"execute"}}, value="Execution::Merge",
                         built_in={"of_scale_down"}, reached_as={"of_scale_down"}),
    # for_demand is private, reached through of_scale_up and `replanned`, which re-plans only a
    # scale-up's demand (`Execution::Split { demand, .. } | Execution::Uniform { demand: Some(..) }`).
    "split_shard": dict(sites={"call"}, callers={"call": {"execute"}}, value="Execution::Split",
                        built_in={"for_demand"}, reached_as={"of_scale_up"}),
    "set_alarm_state": dict(sites={"set_ok"}, callers={"set_ok": {"rearm"}}, value="Reset::ToOk",
                            built_in=None, reached_as=None),
}


class Fail(Exception):
    pass


# ------------------------------------------------------------------------------ Rust source


def blank(src):
    """`src` with comments and the contents of string and char literals replaced by spaces
    (newlines kept), so regexes see only code."""
    out = list(src)
    i, n = 0, len(src)

    def wipe(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            wipe(i, j)
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            wipe(i, j)
            i = j
        elif re.match(r'(?:b)?r#*"', src[i:i + 20]) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            m = re.match(r'(?:b)?r(#*)"', src[i:])
            end = src.find('"' + m.group(1), i + m.end())
            end = n if end < 0 else end + 1 + len(m.group(1))
            wipe(i + m.end(), end - 1 - len(m.group(1)))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            wipe(i + 1, j)
            i = j + 1
        elif c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", src[i:])
            if m:
                wipe(i + 1, i + m.end() - 1)
                i += m.end()
            else:
                i += 1  # a lifetime
        else:
            i += 1
    return "".join(out)


def matching(text, open_at):
    """Index just past the brace/paren/bracket closing the one at `open_at`."""
    pairs = {"{": "}", "(": ")", "[": "]"}
    opener, closer, depth = text[open_at], pairs[text[open_at]], 0
    for k in range(open_at, len(text)):
        if text[k] == opener:
            depth += 1
        elif text[k] == closer:
            depth -= 1
            if depth == 0:
                return k + 1
    raise Fail(f"unbalanced {opener} at offset {open_at}")


def strip_cfg_test(text):
    """Blanks every item under `#[cfg(test)]` (test modules, test-only functions and imports)."""
    while True:
        m = re.search(r"#\[cfg\(test\)\]", text)
        if not m:
            return text
        k = m.end()
        while text[k] not in "{;":
            k += 1
        end = matching(text, k) if text[k] == "{" else k + 1
        text = text[: m.start()] + re.sub(r"[^\n]", " ", text[m.start():end]) + text[end:]


class Fn:
    def __init__(self, name, file, body, owner, trait, signature):
        self.name, self.file, self.body = name, file, body
        self.owner, self.trait, self.signature = owner, trait, signature

    @property
    def module(self):
        return os.path.splitext(os.path.basename(self.file))[0]

    def __repr__(self):
        where = f"{self.owner}" + (f" as {self.trait}" if self.trait else "")
        return f"{os.path.relpath(self.file, ROOT)}: {where + '::' if self.owner else ''}{self.name}"


def functions(path):
    """Every function with a body in `path` (tests left out), with its impl's type and trait."""
    text = strip_cfg_test(blank(open(path).read()))
    impls = []  # (start, end, type, trait)
    for m in re.finditer(r"^[ \t]*impl\b", text, re.M):  # an item, not `-> impl Trait`
        k = m.end()
        if text[k:k + 1] == "<":  # generic parameters
            depth = 0
            while True:
                depth += {"<": 1, ">": -1}.get(text[k], 0)
                k += 1
                if depth == 0:
                    break
        brace = text.find("{", k)
        header = " ".join(text[k:brace].split())
        header = re.split(r"\bwhere\b", header)[0].strip()
        trait, _, typ = header.rpartition(" for ")
        last = lambda s: re.sub(r"<.*", "", s.strip()).split("::")[-1]  # noqa: E731
        impls.append((brace, matching(text, brace), last(typ), last(trait) if trait else None))
    fns = []
    for m in re.finditer(r"\bfn\s+(\w+)", text):
        k, depth = m.end(), 0
        while k < len(text):
            if text[k] in "([":
                depth += 1
            elif text[k] in ")]":
                depth -= 1
            elif depth == 0 and text[k] in "{;":
                break
            k += 1
        if k >= len(text) or text[k] == ";":
            continue  # a declaration (trait method without a default)
        owner = next(((t, tr) for (a, b, t, tr) in impls if a < m.start() < b), (None, None))
        fns.append(Fn(m.group(1), path, text[k:matching(text, k)], owner[0], owner[1], text[m.start():k]))
    return text, fns


def rust_files(crate):
    src = os.path.join(CRATES, crate, "src")
    lib = os.path.join(src, "lib.rs")
    gated = set()
    if os.path.exists(lib):
        gated = set(re.findall(r"#\[cfg\([^)]*\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", open(lib).read()))
    return sorted(
        os.path.join(src, f) for f in os.listdir(src)
        if f.endswith(".rs") and f[:-3] not in gated
    )


def pascal(snake):
    return "".join(w[:1].upper() + w[1:] for w in snake.split("_"))


# ------------------------------------------------------------------------------ 1. adapters


def adapter_operations():
    """{(type, trait or None, fn name): {iam action}} for every function of aws-adapters."""
    files = rust_files("aws-adapters")
    all_fns, texts = [], {}
    for f in files:
        texts[f], fns = functions(f)
        all_fns += fns
    # SDK client fields per struct.
    fields = {}
    for f, text in texts.items():
        raw = open(f).read()
        imported = re.search(r"use\s+aws_sdk_(\w+)::Client\s*;", raw)
        for m in re.finditer(r"\bstruct\s+(\w+)\s*\{", text):
            body = text[m.end():matching(text, m.end() - 1) - 1]
            for fm in re.finditer(r"(\w+)\s*:\s*((?:aws_sdk_(\w+)::)?Client)\b", body):
                service = fm.group(3) or (imported.group(1) if imported else None)
                if service:
                    fields.setdefault(m.group(1), {})[fm.group(1)] = service
    free = {fn.name: fn for fn in all_fns if fn.owner is None}
    inherent = {(fn.owner, fn.name): fn for fn in all_fns if fn.owner and fn.trait is None}
    direct, edges = {}, {}
    for fn in all_fns:
        ops = set()
        for m in re.finditer(r"\bself\s*\.\s*(\w+)\s*\.\s*(\w+)\s*\(", fn.body):
            service = fields.get(fn.owner, {}).get(m.group(1))
            if service and m.group(2) not in CLIENT_METHODS:
                if service not in SERVICE_PREFIX:
                    raise Fail(f"{fn}: SDK client of an unknown service {service}")
                ops.add(f"{SERVICE_PREFIX[service]}:{pascal(m.group(2))}")
        if re.search(r"\.\s*send\s*\(", fn.body) and not ops:
            raise Fail(f"{fn}: sends an SDK request through no client field this test recognises")
        direct[id(fn)] = ops
        calls = set()
        for m in re.finditer(r"\b(?:self|Self)\s*(?:\.|::)\s*(\w+)\s*\(", fn.body):
            if (fn.owner, m.group(1)) in inherent:
                calls.add(id(inherent[(fn.owner, m.group(1))]))
        for m in re.finditer(r"(?<![\w.:])(\w+)\s*\(", fn.body):
            if m.group(1) in free:
                calls.add(id(free[m.group(1)]))
        edges[id(fn)] = calls
    result = {}
    for fn in all_fns:
        seen, todo, ops = set(), [id(fn)], set()
        while todo:
            k = todo.pop()
            if k in seen:
                continue
            seen.add(k)
            ops |= direct[k]
            todo += edges[k]
        result[(fn.owner, fn.trait, fn.name)] = ops
    return result


# ------------------------------------------------------------------------------ 2./3. binaries


def port_traits():
    """{trait: (supertraits, methods)} of crates/reconciler/src/ports.rs."""
    text = strip_cfg_test(blank(open(os.path.join(CRATES, "reconciler", "src", "ports.rs")).read()))
    traits = {}
    for m in re.finditer(r"\bpub\s+trait\s+(\w+)\s*(?::\s*([^{]+))?\{", text):
        body = text[m.end():matching(text, m.end() - 1)]
        supers = re.findall(r"\b([A-Z]\w+)\b", m.group(2) or "")
        traits[m.group(1)] = (supers, set(re.findall(r"\bfn\s+(\w+)", body)))
    return traits


def binary_calls(binary, traits, adapter_fns):
    """(port traits in scope, port methods called, adapter inherent fns called, reached fns)."""
    own = rust_files(binary)
    files = own + [f for lib in LIBRARIES for f in rust_files(lib)]
    fns, own_text = [], ""
    for f in files:
        text, found = functions(f)
        fns += [fn for fn in found if fn.trait not in traits]  # port impls (the I/O layer) pass calls on
        if f in own:
            own_text += text
    in_scope = set()
    for bound in re.findall(r":\s*([A-Z]\w*(?:\s*\+\s*[\w']+)*)", own_text):
        in_scope |= {t for t in re.findall(r"\w+", bound) if t in traits}
    todo = list(in_scope)
    while todo:
        t = todo.pop()
        for s in traits[t][0]:
            if s not in in_scope:
                in_scope.add(s)
                todo.append(s)
    methods = {m for t in in_scope for m in traits[t][1]}
    by_name = {}
    for fn in fns:
        by_name.setdefault(fn.name, []).append(fn)
    adapter_inherent = {name for (owner, trait, name) in adapter_fns if owner and trait is None}

    reached, todo = [], [fn for fn in fns if fn.file in own]
    seen, parent = set(), {}
    called_ports, called_adapters, paths = set(), set(), set()
    while todo:
        fn = todo.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        reached.append(fn)
        body = fn.body
        for m in re.finditer(r"\.\s*(\w+)\s*(?:::<[^>]*>)?\s*\(", body):
            name = m.group(1)
            if name in methods:
                called_ports.add(name)
                continue
            if name in adapter_inherent:
                called_adapters.add(name)
            for t in by_name.get(name, []):
                if t.owner is not None:  # a method call resolves to methods only
                    parent.setdefault(id(t), fn)
                    todo.append(t)
        for m in re.finditer(r"(?<![\w.])((?:\w+::)*)(\w+)\s*(?:::<[^>]*>)?\s*\(", body):
            path, name = m.group(1).rstrip(":"), m.group(2)
            if path:
                paths.add(f"{path.split('::')[-1]}::{name}")
                module = path.split("::")[-1]
                targets = [f for f in by_name.get(name, []) if f.module == module or f.owner == module]
                targets = targets or by_name.get(name, [])
            else:
                same = [f for f in by_name.get(name, []) if f.file == fn.file and f.owner is None]
                targets = same or [f for f in by_name.get(name, []) if f.owner is None]
            for t in targets:
                parent.setdefault(id(t), fn)
                todo.append(t)
        if os.environ.get("IAM_TEST_TRACE") and re.search(os.environ["IAM_TEST_TRACE"], body):
            chain, f = [], fn
            while f is not None:
                chain.append(repr(f))
                f = parent.get(id(f))
            print(f"trace {binary}: " + " <- ".join(chain))
    return in_scope, called_ports, called_adapters, paths, reached


def constructions(body, value):
    """Whether `body` builds `value` (`Path::Variant { .. }` not used as a pattern)."""
    for m in re.finditer(rf"\b{re.escape(value)}\s*\{{", body):
        end = matching(body, m.end() - 1)
        after = body[end:end + 40].lstrip()
        before = body[max(0, m.start() - 40):m.start()]
        if not after.startswith(("=>", "|", "if ", "=")) and "matches!(" not in before and "let " not in before[-12:]:
            return True
    return False


def check_gates():
    """The planner side of the gates: each planner value is built only where GATES says."""
    _, fns = functions(os.path.join(CRATES, "planner", "src", "step.rs"))
    problems = []
    for method, gate in GATES.items():
        if gate["built_in"] is None:
            continue
        found = {fn.name for fn in fns if constructions(fn.body, gate["value"])}
        if found != gate["built_in"]:
            problems.append(f"{gate['value']} is built in {sorted(found)} of planner/src/step.rs, GATES "
                            f"expects {sorted(gate['built_in'])}: revisit the gate of {method}")
    return problems


def gated(binary, method, gate, reached, paths):
    """(whether `binary` builds the gate's value, problems with the gate's guards)."""
    names = {p.split("::")[-1] for p in paths}
    if gate["reached_as"] is not None:
        builds = bool(gate["reached_as"] & names)
    else:
        builds = any(constructions(fn.body, gate["value"]) for fn in reached)
    problems = []
    sites = {fn.name for fn in reached if re.search(rf"\.\s*{method}\s*\(", fn.body)}
    if not sites <= gate["sites"]:
        problems.append(f"{binary}: {method} is called from {sorted(sites)}, GATES expects only "
                        f"{sorted(gate['sites'])}: revisit its gate")
    if not builds:
        for site, allowed in gate["callers"].items():
            callers = {fn.name for fn in reached
                       if re.search(rf"(?<![\w.]){site}\s*\(", fn.body) and fn.name != site}
            if not callers <= allowed:
                problems.append(f"{binary}: {site} is called from {sorted(callers)}, GATES expects only "
                                f"{sorted(allowed)} without {gate['value']}: revisit the gate of {method}")
    return builds, problems


# ------------------------------------------------------------------------------ the template


def resolve(value, template, conditions):
    """Resolves the intrinsics the roles use, for the default parameters (and
    DeployFunctions=true): Ref/GetAtt/Sub become readable `${Name}` strings."""
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref":
            return "" if arg == "StreamNamePrefix" else ("${NoValue}" if arg == "AWS::NoValue" else "${%s}" % arg)
        if key == "Fn::GetAtt":
            return "${%s}" % (".".join(arg) if isinstance(arg, list) else arg)
        if key == "Fn::Sub":
            text = arg if isinstance(arg, str) else arg[0]
            return text.replace("${StreamNamePrefix}", "")
        if key == "Fn::If":
            name, yes, no = arg
            return resolve(yes if conditions[name] else no, template, conditions)
    if isinstance(value, dict):
        out = {k: resolve(v, template, conditions) for k, v in value.items()}
        return {k: v for k, v in out.items() if v != "${NoValue}"}
    if isinstance(value, list):
        return [v for v in (resolve(x, template, conditions) for x in value) if v != "${NoValue}"]
    return value


def as_list(v):
    return v if isinstance(v, list) else [v]


def role_statements(template, role, conditions):
    props = template["Resources"][role]["Properties"]
    statements = []
    for policy in props.get("Policies", []):
        doc = resolve(policy["PolicyDocument"], template, conditions)
        statements += doc["Statement"]
    return statements


def main(explain):
    template, matches = decode(TEMPLATE)
    if matches:
        raise Fail(f"template does not parse: {matches}")
    resources = template["Resources"]
    state_prefix = re.search(r'STATE_TAG_PREFIX\s*:\s*&str\s*=\s*"([^"]+)"',
                             open(os.path.join(CRATES, "planner", "src", "tags.rs")).read()).group(1)
    policy_tag = re.search(r'\bPOLICY_TAG\s*:\s*&str\s*=\s*"([^"]+)"',
                           open(os.path.join(CRATES, "planner", "src", "tags.rs")).read()).group(1)
    trigger = open(os.path.join(CRATES, "planner", "src", "trigger.rs")).read()
    problems = []
    for name, value in re.findall(r'pub const (\w+_TAG\w*)\s*:\s*&str\s*=\s*"([^"]+)"', trigger):
        if not value.startswith(state_prefix):
            problems.append(f"planner/src/trigger.rs {name} = {value!r} is outside {state_prefix}*, "
                            "which the roles' aws:TagKeys condition allows")

    adapters = adapter_operations()
    traits = port_traits()
    impl_ops = {}  # trait method → actions, over the adapter types implementing the trait
    for (owner, trait, fname), ops in adapters.items():
        if trait in traits:
            impl_ops.setdefault((trait, fname), set()).update(ops)
    if explain:
        print("iam-test: (1) SDK operations per adapter impl block:")
        for (owner, trait, fname), ops in sorted(adapters.items(), key=lambda x: [str(p) for p in x[0]]):
            if ops:
                print(f"  {owner}{' as ' + trait if trait else ''}::{fname}: {', '.join(sorted(ops))}")

    problems += check_gates()
    conditions = {"WithFunctions": True, "WithPolicyTag": True, "WithOpsTopic": False,
                  "ReserveScaleUp": True, "ReserveScaleDown": True}
    derived_all = {}
    for binary, (role, log_group, invoke_config) in BINARIES.items():
        in_scope, ports, adapter_calls, paths, reached = binary_calls(binary, traits, adapters)
        narrowed = {}
        for method, gate in GATES.items():
            if method not in ports:
                continue
            builds, gate_problems = gated(binary, method, gate, reached, paths)
            problems += gate_problems
            if not builds:
                narrowed[method] = f"never builds {gate['value']}"
                ports.discard(method)
        derived = set()
        per_method = {}
        for method in sorted(ports):
            ops = set()
            for trait in in_scope:
                if method in traits[trait][1]:
                    if (trait, method) not in impl_ops:
                        problems.append(f"{binary}: {trait}::{method} has no implementation in aws-adapters")
                    ops |= impl_ops.get((trait, method), set())
            per_method[method] = ops
            derived |= ops
        for fname in sorted(adapter_calls):
            for (owner, trait, name), ops in adapters.items():
                if name == fname and trait is None and ops:
                    per_method[f"{owner}::{name}"] = ops
                    derived |= ops
        derived_all[binary] = derived
        if explain:
            print(f"iam-test: {binary}: port traits {sorted(in_scope)}; {len(reached)} functions reached")
            for method, ops in sorted(per_method.items()):
                print(f"  {method}: {', '.join(sorted(ops)) or '(no AWS call)'}")
            for method, why in narrowed.items():
                print(f"  {method}: left out ({why})")

        # What the role must allow besides the code's calls.
        required = {a: None for a in derived}
        log_arn = "${%s.Arn}" % log_group
        required["logs:CreateLogStream"] = log_arn
        required["logs:PutLogEvents"] = log_arn
        on_failure = resources[invoke_config]["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]
        required["sqs:SendMessage"] = resolve(on_failure, template, conditions)
        statements = role_statements(template, role, conditions)
        allowed = {}
        for s in statements:
            if s["Effect"] != "Allow":
                continue
            for a in as_list(s["Action"]):
                allowed.setdefault(a, []).append(s)
        # Publishing to an encrypted topic needs the topic's key.
        for s in allowed.get("sns:Publish", []):
            for topic in as_list(s["Resource"]):
                logical = topic.strip("${}")
                key = resources.get(logical, {}).get("Properties", {}).get("KmsMasterKeyId")
                if key:
                    key_arn = "${%s.Arn}" % resolve(key, template, conditions).strip("${}")
                    required["kms:GenerateDataKey*"] = key_arn
                    required["kms:Decrypt"] = key_arn
        missing = sorted(set(required) - set(allowed))
        extra = sorted(set(allowed) - set(required))
        if missing:
            problems.append(f"{role} lacks what {binary} calls: {', '.join(missing)}")
        if extra:
            problems.append(f"{role} allows what {binary} never calls: {', '.join(extra)}")
        for action, resource in required.items():
            if resource is None:
                continue
            for s in allowed.get(action, []):
                if as_list(s["Resource"]) != [resource]:
                    problems.append(f"{role} {action}: resource {s['Resource']}, expected {resource}")

        # Conditions.
        tag_keys = {"ForAllValues:StringLike": {"aws:TagKeys": state_prefix + "*"}}
        policy_tag_cond = {"Null": {f"aws:ResourceTag/{policy_tag}": "false"}}
        for action in ("kinesis:AddTagsToStream", "kinesis:RemoveTagsFromStream"):
            for s in allowed.get(action, []):
                cond = s.get("Condition", {})
                if {k: cond.get(k) for k in tag_keys} != tag_keys:
                    problems.append(f"{role} {action} (Sid {s.get('Sid')}): aws:TagKeys not limited to "
                                    f"{state_prefix}*: {cond}")
        for action in sorted(a for a in allowed if a.startswith("kinesis:")):
            read = re.match(r"kinesis:(Describe|List|Get)", action)
            for s in allowed[action]:
                cond = s.get("Condition", {})
                if not read and action != "kinesis:RemoveTagsFromStream" and cond.get("Null") != policy_tag_cond["Null"]:
                    problems.append(f"{role} {action}: no {policy_tag} resource-tag condition")
        for s in allowed.get("cloudwatch:PutMetricAlarm", []):
            actions = s.get("Condition", {}).get("ForAllValues:StringLike", {}).get("cloudwatch:AlarmActions")
            if actions != "${AlarmTopic}" and actions != ["${AlarmTopic}"]:
                problems.append(f"{role} cloudwatch:PutMetricAlarm: alarm actions not pinned to the alarm "
                                f"topic (cloudwatch:AlarmActions = {actions!r})")
            if len(as_list(s["Action"])) != 1:
                problems.append(f"{role}: the AlarmActions condition's statement must hold PutMetricAlarm alone")
        for action in ("kms:GenerateDataKey*", "kms:Decrypt"):
            for s in allowed.get(action, []):
                via = s.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
                if via != "sns.${AWS::Region}.amazonaws.com":
                    problems.append(f"{role} {action}: kms:ViaService is {via!r}, expected SNS only")
        print(f"iam-test: {role}: {len(derived)} actions derived from {binary}, "
              f"{len(required) - len(derived)} for its log group, dead letters and keys; "
              f"{'matches' if not (missing or extra) else 'DIFFERS'}")
    return problems


if __name__ == "__main__":
    try:
        problems = main("--explain" in sys.argv)
    except Fail as e:
        problems = [f"the derivation failed: {e}"]
    for p in problems:
        print(f"iam-test: FAIL {p}", file=sys.stderr)
    sys.exit(1 if problems else 0)
