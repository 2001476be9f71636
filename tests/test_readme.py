"""The README's Python examples run as written (they are the first code users copy)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the training example writes a checkpoint
    namespace: dict = {"__name__": f"readme_block_{index}"}
    exec(compile(BLOCKS[index], f"README.md block {index}", "exec"), namespace)
    if "gg" in namespace:  # the quickstart: d2/dx2 of sum(x^3) is 6x
        x = namespace["x"].detach().numpy()
        assert (namespace["gg"].numpy() == 6 * x).all()
    if "test_softplus" in namespace:  # the property-test example defines a hypothesis test
        namespace["test_softplus"]()
    if "loss" in namespace:  # the training example ends with a finite loss and a checkpoint
        assert float(namespace["loss"]) < 1.0986  # below chance level, log(3): it learned
        assert (tmp_path / "ckpt.safetensors").exists()
