"""The README's complete example runs as written (with fewer epochs)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs():
    code = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)[0]
    assert "epochs=30" in code
    namespace: dict = {}
    exec(code.replace("epochs=30", "epochs=2").replace("print(", "result = ("), namespace)
    table = namespace["result"]
    assert list(table.columns) == ["lstm_markowitz", "equal_weight"]


def test_readme_quickstart_commands_match_ci():
    text = README.read_text()
    assert "make demo" in text and "make test" in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert "make test" in ci
