"""The exercise track: every reference solution passes; planted bugs fail with the right words; stubs are
"not started"; the `tinygrad-seq exercises` flow on a temporary folder."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_seq.exercises import EXERCISES, check, check_file, solution_text, stub_text
from tinygrad_seq.nn.lm.cli import main

NAMES = [e.name for e in EXERCISES]

# (exercise, text of its solution to change (the last occurrence), its replacement, words the report says)
BUGS = [
    ("rnn_step", "h_prev @ W_hh + b", "h_prev @ W_hh.T + b", ["h_next differs at batch", "unit"]),
    ("rnn_step", "    return out\n", "    return out.T\n", ["one_hot", "transpose of the right answer"]),
    ("rnn_step", "h_prev @ W_hh + b)", "h_prev @ W_hh)", ["h_next differs at batch"]),
    ("rnn_step_backward", "(1 - h_next * h_next)", "(1 + h_next * h_next)",
     ["backward: dx differs", "wrong: dx, dh_prev, dW_xh, dW_hh, db"]),
    ("rnn_step_backward", "h_prev.T @ dz", "dz.T @ h_prev", ["dW_hh differs", "transpose of the right answer",
                                                             "right: dx, dh_prev, dW_xh, db"]),
    ("rnn_step_backward", "dz.sum(axis=0)", "dz.sum(axis=1)", ["db has shape (2,)", "wrong axis"]),
    ("bptt", "dz = (dhs[t] + dh_next)", "dz = (dhs[t])", ["dxs differs at time step t=2", "enters at t=2"]),
    ("bptt", "range(len(xs) - 1, -1, -1)", "range(len(xs) - 1, 0, -1)",
     ["dxs", "only time step t=0 is wrong"]),
    ("bptt", "db += dz.sum(axis=0)", "db -= dz.sum(axis=0)", ["db differs", "sign is flipped"]),
    ("bptt", "dW_hh += h_prev.T @ dz", "dW_hh += hs[t].T @ dz", ["dW_hh differs"]),
    ("clipping", "float(np.sqrt(sum(np.sum(g * g) for g in grads)))",
     "float(sum(np.sum(g * g) for g in grads))",
     ["total norm differs", "square of the right value"]),
    ("clipping", "return [g * factor for g in grads], total",
     "return [g * min(1.0, max_norm / (np.linalg.norm(g) + 1e-6)) for g in grads], total",
     ["grads[0] differs", "clipped by its own norm"]),
    ("clipping", "if factor >= 1.0:", "if False:", ["grads[0] differs", "below max_norm"]),
    ("truncated_bptt", "        h = h.detach()\n", "", ["second chunk's backward (at t=3)", "h.detach()",
                                                       "truncated_bptt.py\", line"]),
    ("truncated_bptt", "        cell.zero_grad()\n", "", ["chunk 1 (steps 3-5)", "zero the gradients"]),
    ("truncated_bptt", "min(start + k, xs.shape[0]))", "min(start + k, xs.shape[0]) - (start == 0))",
     ["chunk 0 (steps 0-2)", "leaves out the share of time step 2"]),
    ("lstm_cell", "dc * c_prev * f * (1 - f)", "dc * c_prev * f", ["dW_x differs", "gate f",
                                                                    "only gate f's block is wrong"]),
    ("lstm_cell", "dh_next * tanh_c * o * (1 - o)", "dh_next * tanh_c * (1 - o)", ["gate o",
                                                                                    "only gate o's block"]),
    ("lstm_cell", "sigmoid(a[:, H:2 * H] + forget_bias)", "sigmoid(a[:, H:2 * H])",
     ["forward: h_next differs", "forget bias is missing"]),
    ("lstm_cell", "dc * f, x.T", "dc, x.T", ["dc_prev differs", "wrong: dc_prev; right"]),
    ("gru_cell", "daz = dh_next * (h_prev - n)", "daz = dh_next * (n - h_prev)",
     ["dW_x differs", "gate z", "only gate z's block is wrong", "sign is flipped"]),
    ("gru_cell", "dar = dan * ah_n * r * (1 - r)", "dar = dan * ah_n * r", ["gate r", "only gate r's block"]),
    ("gru_cell", "return (1 - z) * n + z * h_prev", "return z * n + (1 - z) * h_prev",
     ["forward: h_next differs", "z and 1 - z are swapped"]),
    ("cross_entropy", "    return loss, dlogits", "    return loss, -dlogits",
     ["dlogits differs at time step t=0", "sign is flipped"]),
    ("cross_entropy", "log_p[t, b, targets].sum()", "log_p[t, b, targets][1:].sum()",
     ["loss differs", "leaves out the share of time step 0"]),
    ("cross_entropy", "np.exp(loss / targets.size)", "np.exp(loss)", ["perplexity differs", "summed loss"]),
    ("cross_entropy", "    return loss, dlogits", "    return loss / targets.size, dlogits / targets.size",
     ["loss differs", "mean over the tokens"]),
    ("sampling", "scaled = logits / temperature", "scaled = logits * temperature",
     ["with temperature=0.5", "chi-square", "temperature multiplies the logits"]),
    ("sampling", "logits[logits < kth] = -np.inf", "logits[logits > np.sort(logits)[top_k - 1]] = -np.inf",
     ["outside the top k", "k smallest"]),
    ("sampling", "        logits[unk_id] = -np.inf\n", "        pass\n", ["token 1 (<unk>) was drawn",
                                                                       "<unk> is not masked"]),
    ("sampling", "        if token == eos_id:\n            break\n        tokens.append(token)",
     "        tokens.append(token)\n        if token == eos_id:\n            break",
     ["generate returned [0, 1, 3]"]),
    ("beam_search", "score + float(lp[v])", "score + float(np.exp(lp[v]))", ["sum of probabilities"]),
    ("beam_search", "                candidates.append((tokens, score))\n", "",
     ["missing from your beam", "a finished hypothesis stays in the beam"]),
    ("beam_search", "candidates.sort(key=lambda c: -c[1])", "candidates.sort(key=lambda c: c[1])",
     ["exhaustive search ranks", "you rank it"]),
    ("attention", "dS @ k / np.sqrt(d)", "dS @ k", ["dq differs at position t=", "2 times the right answer",
                                                    "wrong: dq; right: dk, dv"]),
    ("attention", "dS = P * (dP - (dP * P).sum(axis=-1, keepdims=True))", "dS = P * dP",
     ["dq differs", "wrong: dq, dk; right: dv"]),
    ("attention", "        S = np.where(np.triu(np.ones((T, T), dtype=bool), 1), -np.inf, S)\n", "",
     ["forward: out differs at position t=0", "future is not masked"]),
    ("attention", "dS.transpose(0, 2, 1) @ q", "dS @ q", ["dk differs", "wrong: dk; right: dq, dv"]),
    ("multihead", "x.reshape(B, T, num_heads, E // num_heads).transpose(0, 2, 1, 3)",
     "x.reshape(B, num_heads, T, E // num_heads)", ["split_heads", "head 0, position 1", "mixes positions"]),
    ("multihead", "x.reshape(B, T, num_heads, E // num_heads).transpose(0, 2, 1, 3)",
     "x.reshape(B, T, E // num_heads, num_heads).transpose(0, 3, 1, 2)",
     ["split_heads", "every h-th feature"]),
    ("multihead", "x.transpose(0, 2, 1, 3).reshape(B, T, h * dh)", "x.reshape(B, T, h * dh)",
     ["merge_heads", "without swapping"]),
    ("layer_norm", " - xhat * (g * xhat).mean(axis=1, keepdims=True))", ")",
     ["dx differs", "through the variance", "wrong: dx; right: dgamma, dbeta"]),
    ("layer_norm", "(dy * xhat).sum(axis=0)", "(dy * xhat).sum(axis=1)",
     ["dgamma has shape (3,)", "wrong axis"]),
    ("layer_norm", "dy.sum(axis=0)", "dy.mean(axis=0)", ["dbeta differs", "divided by 3"]),
    ("layer_norm", "((x - mu) ** 2).mean(axis=1, keepdims=True)",
     "((x - mu) ** 2).sum(axis=1, keepdims=True) / (x.shape[1] - 1)", ["forward: y differs", "E - 1"]),
    ("positional_encoding", "pe[:, 0::2] = np.sin(t * w)\n    pe[:, 1::2] = np.cos(t * w[: d // 2])",
     "pe[:, 0::2] = np.cos(t * w)\n    pe[:, 1::2] = np.sin(t * w[: d // 2])",
     ["sine and cosine are swapped"]),
    ("positional_encoding", "(np.arange(0, d, 2) / d)", "(np.arange(0, d, 2) / d / 2)",
     ["differs at position 1, dimension 2"]),
    ("positional_encoding", "t = np.arange(T)[:, None]", "t = np.arange(1, T + 1)[:, None]",
     ["differs at position 0, dimension 0"]),
]


def plant(tmp_path, name: str, old: str, new: str) -> str:
    """Write exercise `name`'s solution, its last `old` replaced by `new`, into tmp_path; return tmp_path."""
    source = solution_text(name)
    assert old in source, f"{name}: {old!r} is not in the solution"
    head, _, tail = source.rpartition(old)
    (tmp_path / f"{name}.py").write_text(head + new + tail)
    return str(tmp_path)


def test_every_exercise_has_a_lesson_hints_and_at_least_three_planted_bugs():
    assert len(EXERCISES) >= 14
    root = os.path.join(os.path.dirname(__file__), "..")
    guide = open(os.path.join(root, "docs", "exercises.md")).read()
    for e in EXERCISES:
        assert len(e.hints) >= 2 and sum(b[0] == e.name for b in BUGS) >= 3, e.name
        page = open(os.path.join(root, e.link)).read()  # the lesson's page on the site
        assert page.startswith(f"# {e.lesson}\n"), f"{e.name}: {e.link} is not the page of {e.lesson!r}"
        assert f"(../exercises.md#{e.name})" in page, f"{e.name}: its lesson does not link to it"
        link = e.link.removeprefix("docs/")
        assert f"### {e.name}\n" in guide and f"({link})" in guide, f"{e.name}: not in docs/exercises.md"


@pytest.mark.parametrize("name", NAMES)
def test_the_reference_solution_passes(tmp_path, name):
    (tmp_path / f"{name}.py").write_text(solution_text(name))
    report = check_file(name, str(tmp_path))
    assert report.passed, str(report)
    assert str(report).startswith(f"{name}: PASSED")


@pytest.mark.parametrize("name", NAMES)
def test_a_stub_is_not_started(tmp_path, name):
    (tmp_path / f"{name}.py").write_text(stub_text(name))
    report = check_file(name, str(tmp_path))
    assert report.status == "not started" and "is not written yet" in report.why, str(report)
    assert "Traceback" not in str(report)


@pytest.mark.parametrize("name, old, new, words", BUGS, ids=[f"{b[0]}-{i}" for i, b in enumerate(BUGS)])
def test_a_planted_bug_fails_and_the_report_says_where(tmp_path, name, old, new, words):
    report = check_file(name, plant(tmp_path, name, old, new))
    assert report.status == "failing"
    text = str(report)
    for word in words:
        assert word in text, f"{word!r} not in:\n{text}"


# one bug per exercise, each caught whatever shapes and values the check draws
FIRST_BUGS = [next(b for b in BUGS if b[0] == name) for name in NAMES]


@settings(max_examples=3)
@given(seed=st.integers(1, 2**31))
def test_on_other_shapes_and_values_solutions_pass_and_bugs_fail(tmp_path_factory, seed):
    folder = tmp_path_factory.mktemp("seeded")
    for name, old, new, _ in FIRST_BUGS:
        (folder / f"{name}.py").write_text(solution_text(name))
        report = check_file(name, str(folder), seed=seed)
        assert report.passed, str(report)
        plant(folder, name, old, new)
        assert check_file(name, str(folder), seed=seed).status == "failing", name


def test_check_takes_the_objects_from_a_notebook():
    from tinygrad_seq.exercises.solutions import rnn_step

    assert check("rnn_step", rnn_step.one_hot, rnn_step.rnn_step_forward)
    assert check("rnn_step", {"one_hot": rnn_step.one_hot, "rnn_step_forward": rnn_step.rnn_step_forward})

    def rnn_step_forward(x, h_prev, W_xh, W_hh, b):
        return np.tanh(x @ W_xh + h_prev @ W_hh)  # the bias forgotten

    report = check("rnn_step", rnn_step.one_hot, rnn_step_forward)
    assert not report and "h_next differs at batch 0, unit" in str(report)


def test_an_exception_in_the_learners_code_shows_their_file_and_line(tmp_path):
    folder = plant(tmp_path, "gru_cell", "H = h_prev.shape[1]", "H = h_prev.shape[1] + undefined_name")
    report = check_file("gru_cell", folder)
    text = str(report)
    assert report.status == "failing" and "NameError" in text
    assert f'{tmp_path / "gru_cell.py"}", line ' in text and "in forward" in text and "undefined_name" in text
    (tmp_path / "bptt.py").write_text("def rnn_forward(:\n")
    assert "does not parse" in check_file("bptt", str(tmp_path)).why


def test_a_wrong_backward_draws_the_unrolled_graph_with_the_wrong_node_marked(tmp_path):
    folder = plant(tmp_path, "rnn_step_backward", "h_prev.T @ dz", "dz.T @ h_prev")
    report = check_file("rnn_step_backward", folder, pictures=str(tmp_path / "pictures"))
    text = str(report)
    assert "op 'RNNStep' in scope 't=0' is the first whose backward disagrees" in text
    assert report.picture is not None and os.path.exists(report.picture) and report.picture in text
    drawn = open(report.picture).read()
    assert "t=0" in drawn and "t=2" in drawn and "RNNStep" in drawn and "W_hh" in drawn


def test_the_command_flow(tmp_path, capsys):
    folder = str(tmp_path / "mine")
    assert main(["exercises", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in NAMES) and "docs/lessons/" in out
    assert main(["exercises", "start", folder]) == 0
    assert sorted(os.listdir(folder)) == sorted(f"{n}.py" for n in NAMES)
    (tmp_path / "mine" / "clipping.py").write_text(solution_text("clipping"))
    capsys.readouterr()
    assert main(["exercises", "start", folder]) == 0  # never overwrites
    assert "kept" in capsys.readouterr().out and "def clip_grad_norm" in solution_text("clipping")
    assert (tmp_path / "mine" / "clipping.py").read_text() == solution_text("clipping")
    assert main(["exercises", "check", folder]) == 1
    table = capsys.readouterr().out
    assert " 4. clipping" in table and "passed" in table and "not started" in table
    assert "1 of 14 passed" in table
    assert main(["exercises", "check", folder, "clipping"]) == 0
    assert "clipping: PASSED" in capsys.readouterr().out
    assert main(["exercises", "check", folder, "clipping", "bptt"]) == 1
    assert main(["exercises", "hint", "gru_cell"]) == 0
    assert "hint 1 of 3" in capsys.readouterr().out
    assert main(["exercises", "hint", "7", "3"]) == 0
    assert "dar = dan*ah_n*r*(1-r)" in capsys.readouterr().out
    assert main(["exercises", "hint", "gru_cell", "9"]) == 2
    assert main(["exercises", "check", folder, "no_such_exercise"]) == 2
    assert "no exercise called 'no_such_exercise'" in capsys.readouterr().err
    solutions = str(tmp_path / "solutions")
    assert main(["exercises", "start", solutions, "--solutions"]) == 0
    began = time.perf_counter()
    assert main(["exercises", "check", solutions]) == 0
    seconds = time.perf_counter() - began
    assert "14 of 14 passed" in capsys.readouterr().out
    assert seconds < 60, f"the full check took {seconds:.1f} s"


def test_the_reports_in_the_readme_and_the_guide_are_what_the_check_prints(tmp_path, monkeypatch, capsys):
    root = os.path.join(os.path.dirname(__file__), "..")
    shown = "".join(open(os.path.join(root, *p)).read() for p in (["README.md"], ["docs", "exercises.md"]))
    monkeypatch.chdir(tmp_path)
    assert main(["exercises", "start", "mine", "--solutions"]) == 0
    for name, old, new in [("gru_cell", "daz = dh_next * (h_prev - n)", "daz = dh_next * (n - h_prev)"),
                           ("bptt", "dz = (dhs[t] + dh_next)", "dz = (dhs[t])"),
                           ("lstm_cell", "sigmoid(a[:, H:2 * H] + forget_bias)", "sigmoid(a[:, H:2 * H])")]:
        plant(tmp_path / "mine", name, old, new)
        capsys.readouterr()
        assert main(["exercises", "check", "mine", name]) == 1
        assert capsys.readouterr().out.strip() in shown, name
