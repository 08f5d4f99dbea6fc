"""The README's two set-up commands are the ones CI runs, and every example file is documented."""
from pathlib import Path

ROOT = Path(__file__).parents[1]


def commands():
    text = (ROOT / "README.md").read_text()
    blocks = text.split("```")
    return [b.strip() for b in blocks[1::2] if b.strip().startswith("python3 -m venv")]


def test_exactly_two_setup_commands_and_ci_runs_the_test_one():
    cmds = commands()
    assert len(cmds) == 2
    assert "qdsl run examples/" in cmds[0]
    assert cmds[1] in (ROOT / ".ci" / "run").read_text()


def test_readme_mentions_every_example():
    text = (ROOT / "README.md").read_text()
    for f in (ROOT / "examples").glob("*.qd"):
        assert f.name in text, f.name
