"""nn.lm.curves: the loss and gradient-norm picture of a run is a PNG drawn without pyplot, leaving the
user's plotting backend alone."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_the_loss_curve_leaves_the_plotting_backend_and_pyplot_alone(tmp_path):
    pytest.importorskip("matplotlib")
    code = (
        "import sys, matplotlib\n"
        "matplotlib.use('svg')\n"
        "from tinygrad_seq.nn.lm.curves import plot_history\n"
        "h = {'step': [1, 2, 3], 'loss': [3.0, 2.0, 1.5], 'grad_norm': [1.0, 0.5, 0.2],"
        " 'val_step': [3], 'val_loss': [1.7]}\n"
        f"plot_history(h, {str(tmp_path / 'c.png')!r}, clip=1.0, baseline=('trigram', 1.6))\n"
        "print(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["svg", "False"]
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
