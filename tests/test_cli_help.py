"""The command's help (one formatter, examples per subcommand) and its bash/zsh completion scripts."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess

import pytest

from tinygrad_seq.nn.lm.cli import build_parser, main
from tinygrad_seq.nn.lm.cli_help import EXAMPLES, completion_script

SUBCOMMANDS = ["train", "eval", "sample", "score", "graph", "gradcheck", "export", "exercises", "completion"]


def help_text(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as info:
        main([*argv, "--help"])
    assert info.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_each_default_is_shown_once_and_never_on_a_required_option(command, capsys):
    text = help_text(capsys, command)
    flat = " ".join(text.split())
    assert "(default:" not in flat and "[None]" not in flat
    # a source path of the project (nn/lm/threads.py); the learner's own DIR/NAME.py is a placeholder
    assert not re.search(r"\b[a-z_]+/[a-z_]+\.py", flat), "a source path in the help"
    for option in re.findall(r"^\s+(--[\w-]+)", text, flags=re.M):  # one [default] per option at most
        line = flat.split(option, 1)[1].split(" --", 1)[0]
        assert line.count("[") <= 1 + line.count("[as in") + line.count("[-"), (option, line)
    if command != "completion":
        threads = "--threads THREADS BLAS threads (one is fastest for these small matrices on a shared CPU)"
        threads += " [1]"
        assert threads in flat
    for required in re.findall(r"(--out DIR|-o FILE, --output FILE)[^\n]*", text):
        assert "[" not in required


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_each_subcommand_ends_with_examples_that_parse(command, capsys):
    text = help_text(capsys, command)
    examples = text.split("examples:\n", 1)[1].splitlines()
    assert [line.strip() for line in examples if line.strip()] == EXAMPLES[command]
    parser = build_parser()
    for example in EXAMPLES[command]:
        if example.startswith("tinygrad-seq"):
            args = parser.parse_args(shlex.split(example)[1:])  # every example is a valid command line
            assert args.command == command


def test_the_top_level_help_lists_one_example_per_command(capsys):
    text = help_text(capsys)
    for command in SUBCOMMANDS:
        assert EXAMPLES[command][0] in text


def complete(script: str, *words: str) -> list[str]:
    """The words bash offers after typing `words` (the last one being completed)."""
    program = (f"{script}\nCOMP_WORDS=({' '.join(repr(w) for w in words)})\nCOMP_CWORD={len(words) - 1}\n"
               "_tinygrad_seq\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True, timeout=30)
    return done.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completion_offers_commands_options_and_choices(capsys):
    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    assert script == completion_script(build_parser(), "bash")
    assert complete(script, "tinygrad-seq", "") == SUBCOMMANDS + ["-h", "--help", "--version"]
    assert complete(script, "tinygrad-seq", "gr") == ["graph", "gradcheck"]
    assert complete(script, "tinygrad-seq", "train", "--mo") == ["--model"]
    assert complete(script, "tinygrad-seq", "train", "--model", "") == ["rnn", "lstm", "gru", "transformer"]
    assert complete(script, "tinygrad-seq", "gradcheck", "--layer", "l") == ["lstm"]
    assert complete(script, "tinygrad-seq", "completion", "") == ["bash", "zsh"]
    assert "--per-token" in complete(script, "tinygrad-seq", "score", "--")


def test_zsh_completion_loads_the_same_function_through_bashcompinit():
    bash, zsh = (completion_script(build_parser(), shell) for shell in ("bash", "zsh"))
    assert "autoload -U +X bashcompinit && bashcompinit" in zsh
    assert zsh.replace("# zsh", "# bash").replace("autoload -U +X bashcompinit && bashcompinit\n", "") == bash
    if shutil.which("zsh"):
        subprocess.run(["zsh", "-n", "-c", zsh], check=True, timeout=30)
    with pytest.raises(ValueError, match="choose bash or zsh"):
        completion_script(build_parser(), "fish")


def test_a_missing_optional_dependency_has_its_own_exit_code(tmp_path, monkeypatch, capsys):
    from tinygrad_seq.nn.lm.cli import EXIT_MISSING_DEPENDENCY

    assert EXIT_MISSING_DEPENDENCY not in (0, 1, 2, 130, 143)
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no `dot`: the picture cannot be drawn
    code = main(["graph", "--model", "gru", "--hidden", "4", "--steps", "2", "-o", str(tmp_path / "g.svg")])
    err = capsys.readouterr().err
    assert code == EXIT_MISSING_DEPENDENCY and "`dot` program was not found on PATH" in err
    assert (tmp_path / "g.dot").exists()  # the DOT text is written all the same


def test_make_demo_ends_with_a_command_that_runs_without_activating_the_venv(monkeypatch):
    import importlib.util
    import os
    import sys

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demos", "main.py")
    spec = importlib.util.spec_from_file_location("demo_main", path)
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    beside = os.path.join(os.path.dirname(sys.executable), "tinygrad-seq")
    if not os.path.exists(beside):
        pytest.skip("no tinygrad-seq script beside this Python (not an installed venv)")
    monkeypatch.setenv("PATH", "/nonexistent")  # the venv not activated: the hint is a path that works
    hint = demo.command_name()
    assert hint != "tinygrad-seq" and os.path.samefile(hint, beside)
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))  # activated: the bare name
    assert demo.command_name() == "tinygrad-seq"
