"""MkDocs hook: the docs' fenced blocks carry test directives after the language in their info
string (```` ```qd file=NAME ````, ```` ```python runnable ````, ```` ```json subset-of=FILE ````,
```` ```text output ````; tests/test_docs.py runs them). The site shows them as plain
```` ```qd ```` / ```` ```python ```` blocks: the directives are dropped before Markdown reads the
page."""
from __future__ import annotations

import re

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<lang>[\w+#.-]+)[ \t]+[^`\n]*$", re.M)


def on_page_markdown(markdown: str, **kwargs) -> str:
    """The page with every fence's info string cut to its language."""
    return FENCE.sub(lambda m: m.group("indent") + m.group("fence") + m.group("lang"), markdown)
