"""The `tinygrad-seq` command's help and shell completion, both read from its argument parser.

One help formatter for every subcommand: a default is shown once, as ``[value]``, and only when there is
one (never "(default: None)" on a required option); each subcommand ends with examples. The completion
scripts for bash and zsh (``tinygrad-seq completion bash``) are generated from the same parser, so a new
option completes as soon as it exists.

    eval "$(tinygrad-seq completion bash)"     # in ~/.bashrc
    eval "$(tinygrad-seq completion zsh)"      # in ~/.zshrc
"""

from __future__ import annotations

import argparse
import shlex

__all__ = ["EXAMPLES", "HelpFormatter", "completion_script"]

EXAMPLES: dict[str, list[str]] = {
    "train": ["tinygrad-seq train --corpus pydoc --model lstm --minutes 5 --out runs/lstm",
              "tinygrad-seq train --corpus my_text.txt --model transformer --steps 2000 --out runs/tf",
              "tinygrad-seq train --out runs/lstm --resume --minutes 5"],
    "eval": ["tinygrad-seq eval runs/lstm", "tinygrad-seq eval runs/lstm --corpus other.txt --json"],
    "sample": ['tinygrad-seq sample runs/lstm --prompt "The " --temperature 0.8',
               "tinygrad-seq sample runs/lstm --num 3 --top-k 5 --seed 1"],
    "score": ['tinygrad-seq score runs/lstm "the apple and pear salad" "the apple and pair salad"',
              "tinygrad-seq score runs/lstm --file essay.txt --per-token"],
    "graph": ["tinygrad-seq graph runs/lstm --steps 6 -o lstm.svg",
              "tinygrad-seq graph runs/lstm --steps 40 --html -o lstm.html",
              "tinygrad-seq graph --model gru --steps 4 --expand -o gru.svg"],
    "gradcheck": ["tinygrad-seq gradcheck --layer all", "tinygrad-seq gradcheck runs/lstm --localize",
                  "tinygrad-seq gradcheck --model transformer --steps 4"],
    "export": ["tinygrad-seq export runs/lstm -o model.safetensors"],
    "exercises": ["tinygrad-seq exercises start mine", "tinygrad-seq exercises check mine bptt",
                  "tinygrad-seq exercises hint bptt 2"],
    "completion": ['eval "$(tinygrad-seq completion bash)"    # add to ~/.bashrc',
                   'eval "$(tinygrad-seq completion zsh)"     # add to ~/.zshrc'],
}


def epilog(command: str) -> str:
    """The "examples:" block that ends a subcommand's help."""
    return "examples:\n" + "".join(f"  {line}\n" for line in EXAMPLES[command])


class HelpFormatter(argparse.HelpFormatter):
    """Help text with each default shown once as ``[value]``, and the examples block kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        shown = "[" in text or "%(default)" in text
        nothing = action.default is None or action.default is False or action.default == argparse.SUPPRESS
        nothing = nothing or action.required
        if shown or nothing or not action.option_strings:
            return text
        return text + " [%(default)s]"

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


# ------------------------------------------------------------------------------------------ completion


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [s for a in parser._actions for s in a.option_strings]


def _value_cases(parser: argparse.ArgumentParser) -> dict[str, str]:
    """For each option that takes a value: the words to complete after it (choices, or files)."""
    cases = {}
    for action in parser._actions:
        if not action.option_strings or action.nargs == 0:
            continue
        if action.choices:
            words = " ".join(str(c) for c in action.choices)
            reply = f"COMPREPLY=( $(compgen -W {shlex.quote(words)} -- \"$cur\") )"
        elif action.metavar in ("PATH", "FILE", "DIR") or action.dest in ("corpus", "out", "file", "output"):
            reply = 'COMPREPLY=( $(compgen -f -- "$cur") )'
        else:
            reply = "COMPREPLY=()"  # a number or free text: nothing to offer
        for option in action.option_strings:
            cases[option] = reply
    return cases


def _positional_reply(parser: argparse.ArgumentParser) -> str:
    """What a word that is not an option completes to: a positional's choices, or files."""
    choices = [str(c) for a in parser._actions if not a.option_strings and a.choices for c in a.choices]
    if choices:
        return f"COMPREPLY=( $(compgen -W {shlex.quote(' '.join(choices))} -- \"$cur\") )"
    return 'COMPREPLY=( $(compgen -f -- "$cur") )'


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """A bash or zsh completion script for the command `parser.prog`, generated from the parser.

    zsh loads the bash function through `bashcompinit`, so both shells complete the same words.
    """
    if shell not in ("bash", "zsh"):
        raise ValueError(f"completion: unknown shell {shell!r}; choose bash or zsh")
    prog = parser.prog
    function = "_" + "".join(c if c.isalnum() else "_" for c in prog)
    commands = _subcommands(parser)
    lines = [f"# {shell} completion for {prog}, generated from its argument parser",
             f"{function}() {{",
             '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
             "    if [ \"$COMP_CWORD\" -eq 1 ]; then",
             f"        COMPREPLY=( $(compgen -W {shlex.quote(' '.join([*commands, *_options(parser)]))} "
             '-- "$cur") )',
             "        return 0",
             "    fi",
             '    case "${COMP_WORDS[1]}" in']
    for name, sub in commands.items():
        options = " ".join(_options(sub))
        lines.append(f"    {name})")
        lines.append('        case "$prev" in')
        for option, reply in _value_cases(sub).items():
            lines.append(f"            {option}) {reply}; return 0 ;;")
        lines.append("        esac")
        lines.append('        if [[ "$cur" == -* ]]; then')
        lines.append(f'            COMPREPLY=( $(compgen -W {shlex.quote(options)} -- "$cur") )')
        lines.append("        else")
        lines.append(f"            {_positional_reply(sub)}")
        lines.append("        fi ;;")
    lines += ["    esac", "}"]
    if shell == "zsh":
        lines.append("autoload -U +X bashcompinit && bashcompinit")
    lines.append(f"complete -o filenames -F {function} {prog}")
    return "\n".join(lines) + "\n"
