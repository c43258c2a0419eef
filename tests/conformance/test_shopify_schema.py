"""The trimmed schema regenerates identically, and every GraphQL document validates against the real one."""

from __future__ import annotations

from pathlib import Path

from graphql import parse, validate

from sandbox.shopify.trim_schema import SDL_PATH, build_trimmed_schema, load_full_schema, render_sdl

ROOT = Path(__file__).resolve().parents[2]


def test_trimmed_sdl_is_what_the_script_generates(reference_dir: Path) -> None:
    assert SDL_PATH.read_text(encoding="utf-8") == render_sdl(reference_dir)


def test_every_graphql_document_validates_against_the_full_schema(reference_dir: Path) -> None:
    schema = load_full_schema(reference_dir)
    paths = sorted((ROOT / "connectors").rglob("*.graphql"))
    assert paths, "no GraphQL documents found under connectors/"
    for path in paths:
        errors = validate(schema, parse(path.read_text(encoding="utf-8")))
        assert [e.message for e in errors] == [], path.relative_to(ROOT)


def test_trimmed_schema_keeps_only_allowlisted_root_fields(reference_dir: Path) -> None:
    trimmed = build_trimmed_schema(load_full_schema(reference_dir))
    assert trimmed.mutation_type is not None
    assert "inventorySetQuantities" in trimmed.mutation_type.fields
    assert "productCreate" not in trimmed.mutation_type.fields
