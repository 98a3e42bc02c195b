"""Run the tutorial notebook in a fresh kernel and store it with its outputs: ``make notebook``.

The stored notebook reads on a code host and on the docs site without running. `execute` is the one way
it is run, here and by tests/test_notebook.py, which checks that the stored outputs are what the notebook
produces now (`comparable`): no timing metadata, execution counts 1, 2, ... from a fresh kernel, no
interpreter version, and a working folder of its own (no path of this machine in an output).

    python docs/notebook.py            # rewrite docs/tutorial.ipynb with fresh outputs
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from typing import Any

NOTEBOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tutorial.ipynb")

# what differs from run to run in an output's text: the progress bar's times and speed
_TIMING = re.compile(r"\[\d\d:\d\d<[\d:?]+|[\d,.]+ tok/s")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]\d+)?")
_SVG_TEXT = re.compile(r"<text\b[^>]*>([^<]*)</text>")


def execute(path: str = NOTEBOOK, timeout: int = 120) -> Any:
    """The notebook at `path` run top to bottom in a fresh Python kernel, in a temporary working folder;
    returns the executed notebook (nbformat v4), its metadata stripped of what differs between machines."""
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    with tempfile.TemporaryDirectory() as folder:
        client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                                         resources={"metadata": {"path": folder}})
        client.execute()
    nb.metadata.get("language_info", {}).pop("version", None)  # the interpreter's patch release
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    return nb


def comparable(output: Any) -> tuple[tuple[str, ...], list[str]]:
    """What must stay the same in one output between two runs of the notebook: (its type, stream name,
    media types and text with every number replaced by ``<n>``; the numbers as printed, for a comparison
    within a tolerance). The progress bar's times and speed are left out; a PNG counts by its presence, an SVG
    by the text of its labels (the layout is Graphviz's)."""
    data = output.get("data", {})
    if output.output_type == "stream":
        text = output.text
    elif "image/svg+xml" in data:
        text = "\n".join(_SVG_TEXT.findall(data["image/svg+xml"]))
    elif "image/png" in data:
        text = ""
    elif "text/plain" in data:
        text = data["text/plain"]
    else:
        text = f"{output.get('ename', '')}: {output.get('evalue', '')}"
    text = _TIMING.sub("<timing>", text)
    key = (output.output_type, output.get("name", ""), " ".join(sorted(data)), _NUMBER.sub("<n>", text))
    return key, _NUMBER.findall(text)


def main() -> int:
    import nbformat

    nb = execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    if errors:
        print(f"docs/notebook.py: the notebook raised {errors[0].ename}: {errors[0].evalue}; "
              f"{NOTEBOOK} was left as it was", file=sys.stderr)
        return 1
    nbformat.write(nb, NOTEBOOK)
    print(f"wrote {os.path.relpath(NOTEBOOK)} with its outputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
