"""The documentation site (mkdocs.yml; CI runs `mkdocs build --strict`): every page of docs/ is in
the navigation, the API reference pages name modules that exist, and the hook that drops the test
directives from fenced blocks keeps the language (so `qd` blocks reach qdsl's Pygments lexer)."""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"


def config() -> dict:
    class Loader(yaml.SafeLoader):
        pass
    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)
    return yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=Loader)


def nav_pages(nav) -> list[str]:
    out = []
    for item in nav:
        if isinstance(item, str):
            out.append(item)
        else:
            for v in item.values():
                out += nav_pages(v) if isinstance(v, list) else [v]
    return out


def test_every_page_is_in_the_nav_and_exists():
    cfg = config()
    assert cfg["strict"] is True and cfg["docs_dir"] == "docs"
    pages = nav_pages(cfg["nav"])
    assert len(pages) == len(set(pages))
    on_disk = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert not on_disk - set(pages), f"add these pages to mkdocs.yml's nav: {sorted(on_disk - set(pages))}"
    assert not set(pages) - on_disk, f"mkdocs.yml's nav names missing pages: {sorted(set(pages) - on_disk)}"


def test_reference_pages_name_real_modules():
    for page in (DOCS / "reference").glob("*.md"):
        for mod in re.findall(r"^::: ([\w.]+)$", page.read_text(), re.M):
            assert importlib.util.find_spec(mod) is not None, (page.name, mod)


def test_fence_hook_keeps_the_language_and_drops_directives():
    sys.path.insert(0, str(DOCS / "hooks"))
    try:
        from fences import on_page_markdown
    finally:
        sys.path.pop(0)
    md = ("```qd file=future.qd\nlanguage 2\n```\n\n```python runnable\nx = 1\n```\n"
          "  ```json subset-of=r.json\n  {}\n  ```\n```\n$ qdsl check x.qd\n```\n")
    assert on_page_markdown(md) == ("```qd\nlanguage 2\n```\n\n```python\nx = 1\n```\n"
                                    "  ```json\n  {}\n  ```\n```\n$ qdsl check x.qd\n```\n")
