"""nn.lm.progress: the training bar on a terminal, a timed run against its budget, and `work_bar` for long
work."""

from __future__ import annotations

import io

from helpers import Terminal, hide, make_run

from tinygrad_seq.nn.lm.progress import Progress


def test_progress_bar_on_a_terminal(tmp_path):
    trainer, _, _ = make_run(tmp_path, "run")
    trainer.stream = Terminal()
    trainer.run(steps=4, sample_length=0)
    text = trainer.stream.getvalue()
    assert "4/4" in text and "100%|" in text and "tok/s" in text and "loss " in text and "\r" in text


def test_a_timed_run_shows_elapsed_time_against_its_budget_a_total_that_never_moves(monkeypatch):
    stats = {"loss": 1.5, "val": None, "tok_s": 100.0, "lr": 1e-3, "norm": 0.5}
    stream = Terminal()
    bar = Progress(stream, total=348, initial=0, seconds=30)
    shown = []
    for step, elapsed, planned in [(1, 0.4, 231), (100, 9.2, 348), (179, 19.8, 266), (266, 30.1, 266)]:
        bar.set_total(planned)  # a timed run re-plans its step count: the bar's total stays the budget
        bar.update(step, planned, stats, eta=None, elapsed=elapsed)
        assert bar.bar.total == 30 and bar.bar.n == min(int(elapsed), 30)
        shown.append(str(bar.bar).split("| ", 1)[1])
    bar.close()
    assert shown[2] == "19s of 30s, step 179, loss 1.500, 100 tok/s"
    assert shown[3].startswith("30s of 30s, step 266") and not any("/2" in s or "/3" in s for s in shown)

    hide(monkeypatch, "tqdm")  # plain lines: the elapsed time and the budget, no estimated step total
    stream = Terminal()
    bar = Progress(stream, total=348, initial=0, seconds=90)
    bar.update(179, 348, stats, eta=None, force=True, elapsed=65.0)
    assert stream.getvalue().splitlines()[1].startswith("step 179 | 1m05s of 1m30s | loss 1.500")


def test_long_work_gets_a_bar_on_a_terminal_and_short_work_or_a_pipe_none(monkeypatch):
    from tinygrad_seq.nn.lm.progress import WORK_BAR_TOKENS, work_bar

    stream = Terminal()
    with work_bar(stream, WORK_BAR_TOKENS, "score") as advance:
        advance(WORK_BAR_TOKENS // 2)
        bar = advance.__self__  # the tqdm bar itself
        assert bar.n == WORK_BAR_TOKENS // 2 and bar.total == WORK_BAR_TOKENS
        assert str(bar).startswith("score:  50%")
    assert "score:   0%" in stream.getvalue()
    for quiet, total in [(Terminal(), WORK_BAR_TOKENS - 1), (io.StringIO(), 10 * WORK_BAR_TOKENS)]:
        with work_bar(quiet, total, "eval") as advance:
            advance(total)
        assert quiet.getvalue() == ""
