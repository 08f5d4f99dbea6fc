"""`qdsl explain` text: prose wrapped paragraph by paragraph, code examples kept as written."""
from qdsl.explain import _tables, all_codes, explain


def test_code_examples_survive_wrapping():
    text = explain("E0100")
    assert "    model m {\n        param x = 0.5\n        loss = 2 x" in text
    assert text.startswith("E0100\n\nUnexpected token.\n\nThe parser met")


def test_every_prose_line_fits_and_no_word_is_lost():
    table = _tables()
    for code in all_codes():
        body = explain(code).split("\n\n", 1)[1]
        for line in body.splitlines():
            assert len(line) <= 88 or line.startswith("    "), (code, line)
        assert body.split() == table[code].split(), code
