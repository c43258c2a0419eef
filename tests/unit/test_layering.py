"""The layers hold: ``sync/`` speaks no platform, ``core/`` imports nothing of ours, connectors
reach no database, flow or web code.

The name check reads every module under ``sync/`` (subpackages included) and fails on a
platform's name, REST path or GraphQL id in an identifier, an attribute or argument name,
an imported module, a string literal (f-strings included) or a comment. Docstrings are
prose for readers and may name what they describe; everything a program acts on may not.

Platform payload keys (:data:`PAYLOAD_KEYS`: the keys only a platform's payload has) may not
appear in ``sync/`` as string literals either: a flow reads canonical types, never a body.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYNC = ROOT / "sync"
# Platform names, their REST paths and GraphQL ids: none may appear in sync/.
PLATFORM_WORDS = re.compile(r"shopify|woo|\bwc\b|wc/|gid://|wp-json|graphql", re.IGNORECASE)
# Keys of the platforms' payloads (Shopify webhooks and GraphQL, WooCommerce REST) that a
# flow would only write to read a platform body.
PAYLOAD_KEYS = frozenset(
    {
        "admin_graphql_api_id",
        "billing",
        "date_created_gmt",
        "date_modified_gmt",
        "date_paid_gmt",
        "displayFinancialStatus",
        "edges",
        "financial_status",
        "fulfillment_status",
        "line_items",
        "manage_stock",
        "meta_data",
        "nodes",
        "pageInfo",
        "shipping_lines",
        "stock_quantity",
        "stock_status",
        "subtotal_price",
        "total_price",
        "userErrors",
    }
)
OURS = frozenset(
    p.stem
    for p in ROOT.iterdir()
    if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.stem != "conftest")
)
FORBIDDEN_FOR_CONNECTORS = ("db", "sync", "web", "webhooks")


def _modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if ".venv" not in p.parts)


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the string constants that are docstrings."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _words(node: ast.AST, docstrings: set[int]) -> Iterator[str]:
    """The names and literal text one node carries."""
    if isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, ast.Attribute):
        yield node.attr
    elif isinstance(node, ast.arg | ast.keyword) and node.arg:
        yield node.arg
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        yield node.name
    elif isinstance(node, ast.alias):
        yield node.name
        if node.asname:
            yield node.asname
    elif isinstance(node, ast.ImportFrom) and node.module:
        yield node.module
    elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
        yield node.value


def platform_words(source: str) -> list[tuple[int, str]]:
    """Every (line, text) of ``source`` that names a platform, outside docstrings."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    found = [
        (getattr(node, "lineno", 0), word)
        for node in ast.walk(tree)
        for word in _words(node, docstrings)
        if PLATFORM_WORDS.search(word)
    ]
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT and PLATFORM_WORDS.search(token.string):
            found.append((token.start[0], token.string))
    return sorted(found)


def imported(source: str) -> set[str]:
    """The modules ``source`` imports (absolute names; TYPE_CHECKING and local imports too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _top(module: str) -> str:
    return module.split(".", 1)[0]


SYNC_MODULES = [_name(p) for p in _modules(SYNC)]


@pytest.mark.parametrize("module", SYNC_MODULES)
def test_sync_names_no_platform(module: str) -> None:
    found = platform_words((ROOT / module).read_text(encoding="utf-8"))
    assert not found, f"{module} names a platform: " + "; ".join(f"{n}: {w!r}" for n, w in found[:10])


@pytest.mark.parametrize("module", SYNC_MODULES)
def test_sync_reads_no_platform_payload(module: str) -> None:
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    keys = sorted(
        {
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in PAYLOAD_KEYS
        }
    )
    assert not keys, f"{module} reads platform payload keys: {keys}"


def test_the_payload_key_check_can_fail() -> None:
    tree = ast.parse('body["line_items"][0].get("stock_quantity")')
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert strings == {"line_items", "stock_quantity"} and strings <= PAYLOAD_KEYS


@pytest.mark.parametrize("module", SYNC_MODULES)
def test_sync_imports_no_platform_connector(module: str) -> None:
    bad = sorted(m for m in imported((ROOT / module).read_text(encoding="utf-8")) if PLATFORM_WORDS.search(m))
    assert not bad, f"{module} imports a platform's connector: {bad}"


@pytest.mark.parametrize("module", [_name(p) for p in _modules(ROOT / "core")])
def test_core_imports_nothing_of_ours(module: str) -> None:
    bad = sorted(
        m
        for m in imported((ROOT / module).read_text(encoding="utf-8"))
        if _top(m) in OURS and _top(m) != "core"
    )
    assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize("module", [_name(p) for p in _modules(ROOT / "connectors")])
def test_connectors_import_no_database_flow_or_web(module: str) -> None:
    bad = sorted(
        m
        for m in imported((ROOT / module).read_text(encoding="utf-8"))
        if _top(m) in FORBIDDEN_FOR_CONNECTORS
    )
    assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("from connectors.shopify.client import ShopifyClient\n", 2),
        ("x = store.platform is Platform.woocommerce\n", 1),
        ("gid = 'gid://x/Order/1'\n", 1),
        ("path = f'{root}/wp-json/wc/v3/orders'\n", 1),
        ("def f(woo_id: int) -> None:\n    pass\n", 1),
        ("call(wc_key=1)  # see the wc/v3 docs\n", 1),
        ('"""The storefront\'s orders (as Shopify sends them)."""\nx = 1\n', 0),
        ("def f() -> None:\n    '''Reads GraphQL pages.'''\n", 0),
        ("orders = storefront.orders_since(since)\n", 0),
    ],
)
def test_the_name_check_sees_names_literals_and_comments(source: str, words: int) -> None:
    assert len(platform_words(source)) == words


# The flows stay split by operation: no module under sync/ over MAX_MODULE_LINES lines and
# no function (or method) over MAX_FUNCTION_LINES, decorators and docstring included.
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int]]:
    """(name, lines) of every function in ``source`` longer than ``limit`` lines."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            lines = (node.end_lineno or node.lineno) - first + 1
            if lines > limit:
                found.append((node.name, lines))
    return found


@pytest.mark.parametrize("module", SYNC_MODULES)
def test_sync_modules_and_functions_stay_short(module: str) -> None:
    source = (ROOT / module).read_text(encoding="utf-8")
    lines = len(source.splitlines())
    assert lines <= MAX_MODULE_LINES, f"{module} has {lines} lines (at most {MAX_MODULE_LINES}): split it"
    long = long_functions(source)
    assert not long, f"{module}: functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_the_length_check_can_fail() -> None:
    body = "".join(f"    x{n} = {n}\n" for n in range(MAX_FUNCTION_LINES))
    assert long_functions(f"@job\ndef f() -> None:\n{body}") == [("f", MAX_FUNCTION_LINES + 2)]
    assert long_functions(f"def g() -> None:\n{body}") == [("g", MAX_FUNCTION_LINES + 1)]
    assert long_functions("def h() -> None:\n    pass\n") == []
