"""router/'s module graph: no cycle, and no router-wide globals.

A module is a file stem of router/ (query.c and query.h are one module).
Module A depends on module B when a file of A includes B's header, or
includes a header that declares a function or variable B defines and
names it: a catch-all header (router.h used to declare every module's
functions) would otherwise hide who calls whom. The tests also hold each
header to declaring only its own module's things, so that the include
lines alone tell the graph.

Plain file reading, no build needed. ROUTER_DIR in the environment points
the tests at another tree's router/ (to show what they find there).
"""

import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
ROUTER = os.environ.get("ROUTER_DIR", os.path.join(REPO, "router"))

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
# The globals main.c used to share: the loop, the config, the controller's
# endpoint directory, and the counters query.c defined for everyone.
GLOBALS = ("loop", "conf", "endpoint_dir", "rcount")


def sources():
    return sorted(f for f in os.listdir(ROUTER)
                  if f.endswith(".c") or f.endswith(".h"))


def read(name):
    with open(os.path.join(ROUTER, name), encoding="utf-8") as f:
        return f.read()


def stem(name):
    return name.rsplit(".", 1)[0]


def code(text):
    """text without comments, string literals and preprocessor lines."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r'"(\\.|[^"\\\n])*"', '""', text)
    return re.sub(r"^\s*#[^\n]*(\\\n[^\n]*)*", " ", text, flags=re.M)


def top_level(text):
    """The file-scope statements of text: what lies outside any braces,
    split at semicolons (a function definition's head ends at its '{')."""
    out, cur, depth = [], [], 0
    for ch in code(text):
        if ch == "{":
            if depth == 0:
                out.append("".join(cur) + "{")
                cur = []
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0:
            if ch == ";":
                out.append("".join(cur))
                cur = []
            else:
                cur.append(ch)
    return [" ".join(s.split()) for s in out if s.strip()]


KEYWORDS = {"if", "while", "for", "switch", "return", "sizeof", "__attribute__"}


def declared_name(stmt):
    """The function or object a file-scope statement declares, or None."""
    if stmt.startswith(("typedef", "struct", "enum", "union")) and \
            "(" not in stmt and "=" not in stmt and not \
            re.match(r"(struct|enum|union) \w+ \**\s*\w+\s*(\[|$)", stmt):
        return None
    head = stmt.split("=", 1)[0].rstrip("{").strip()
    # A pointer to a function: void (*name)(void)
    m = re.match(r"[^(]*?\(\s*\*\s*([A-Za-z_]\w*)\s*\)", head)
    if m:
        return m.group(1)
    # A function: the first name followed by a parenthesis
    m = re.match(r"[^(]*?\b([A-Za-z_]\w*)\s*\(", head)
    if m and m.group(1) not in KEYWORDS:
        return m.group(1)
    m = re.search(r"\b([A-Za-z_]\w*)\s*(\[[^\]]*\])*\s*$", head)
    return m.group(1) if m else None


def declarations(name):
    """Names a header declares (not defines), with external linkage."""
    names = set()
    for stmt in top_level(read(name)):
        if stmt.endswith("{") or stmt.startswith("static"):
            continue		# a static inline helper is the header's own
        n = declared_name(stmt)
        if n is not None and (stmt.startswith("extern") or "(" in stmt):
            names.add(n)
    return names


def definitions():
    """Name -> stem of the .c that defines it with external linkage."""
    owner = {}
    for f in sources():
        if not f.endswith(".c"):
            continue
        for stmt in top_level(read(f)):
            if stmt.startswith(("static", "extern", "typedef")):
                continue
            is_func = stmt.endswith("{") and "(" in stmt
            is_obj = not stmt.endswith("{") or "=" in stmt
            n = declared_name(stmt)
            if n is not None and (is_func or is_obj):
                owner.setdefault(n, stem(f))
    return owner


def includes(name):
    """The router/ headers name includes (the others are not modules)."""
    here = set(sources())
    return [h for h in INCLUDE.findall(read(name)) if h in here]


def module_graph():
    """Module -> the modules it depends on: the stem of every router/
    header it includes, and the owner of every function or variable such a
    header declares that the including file names."""
    owner = definitions()
    graph = {}
    for f in sources():
        used = set(re.findall(r"\b[A-Za-z_]\w*\b", code(read(f))))
        deps = graph.setdefault(stem(f), set())
        for h in includes(f):
            deps.add(stem(h))
            deps |= {owner[d] for d in declarations(h) & used if d in owner}
        deps.discard(stem(f))
    return graph


def find_cycle(graph):
    """One cycle as a list of modules (first == last), or None."""
    state, path = {}, []

    def visit(n):
        state[n] = 1
        path.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return path[path.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        path.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def test_router_modules_form_no_cycle():
    cycle = find_cycle(module_graph())
    assert cycle is None, "router/ modules depend on each other in a " \
        "cycle: " + " -> ".join(cycle)


def test_each_router_header_declares_only_its_own_module():
    owner = definitions()
    stray = []
    for h in sources():
        if not h.endswith(".h"):
            continue
        for d in sorted(declarations(h)):
            if d in owner and owner[d] != stem(h):
                stray.append("%s declares %s (defined in %s.c)" %
                             (h, d, owner[d]))
    assert not stray, "headers that speak for other modules:\n" + \
        "\n".join(stray)


def test_no_router_wide_globals():
    """loop, conf, endpoint_dir and rcount are no longer shared: main.c
    keeps its own (static) and hands them to each module's init, which
    keeps a static of its own. No file declares them extern or defines them
    with external linkage."""
    bad = []
    for f in sources():
        for stmt in top_level(read(f)):
            if stmt.endswith("{") or "(" in stmt.split("=", 1)[0]:
                continue
            n = declared_name(stmt)
            if n in GLOBALS and not stmt.startswith("static"):
                bad.append("%s: %s" % (f, stmt))
    assert not bad, "router-wide globals:\n" + "\n".join(bad)


def test_endpoint_dir_is_main_cs_to_hand_out():
    """Only main.c chooses where the controller's endpoints are; the others
    get it through struct router."""
    users = [f for f in sources() if f not in ("main.c", "router.h") and
             re.search(r"(?<![.>])\bendpoint_dir\b", code(read(f)))]
    assert not users, "files that name endpoint_dir directly: %s" % users


@pytest.mark.parametrize("module", ["table", "stats", "query", "upstream",
                                    "upstream_tcp", "udp", "tcp"])
def test_modules_below_main_do_not_reach_main(module):
    """table.c tells main.c of the first table through a callback; no module
    calls back into main.c."""
    graph = module_graph()
    assert "main" not in graph.get(module, set())


def test_table_does_not_call_the_stats_module():
    """A released table is handed to a callback; table.c does not know
    who reports it."""
    assert "stats" not in module_graph().get("table", set())
