"""Which char-level language model learns most in a fixed CPU-time budget: a sweep, one row per run.

    python benchmarks/lm_sweep.py screen --kind lstm --corpus pydoc --budget 1    # the kind's grid, 1 CPU-min
    python benchmarks/lm_sweep.py run --kind gru --corpus austen --budget 5 --set hidden=384 lr=0.006
    python benchmarks/lm_sweep.py table                                          # the results, best first

Every run trains one model with `Trainer.run(minutes=budget, cpu_time=True)`: the budget is CPU time
of the run's own process (one BLAS thread), so a machine loaded by other work measures the same thing;
the learning rate warms up and decays (cosine) to the end of the budget; validation during training is
inside the budget, the count baselines and the final evaluation are not. The score is the loss in
nats/char on the corpus's held-out last 10% (`Trainer.validate`: what `eval` prints), read once.

Runs go two at a time (``--jobs``, each in a fresh process) and each appends one JSON line to
benchmarks/results/lm_sweep.jsonl (the settings, steps, tokens, CPU and wall seconds, the score, the
trigram's score); a run already recorded with the same settings is skipped, so an interrupted sweep
resumes. ``screen`` runs a kind's grid: its defaults (the config dataclasses' values for that kind) and
one change of one setting at a time (a coarse grid over hidden size, layers, embedding size, sequence
length, batch size, learning rate, warm-up, schedule, dropout and weight tying); the best few are
confirmed with ``run`` at a longer budget.

Corpora: ``pydoc`` (built in), ``austen``: five of Jane Austen's novels (all but Persuasion, which
benchmarks/austen_heldout.py keeps for its held-out test), from the Debian package r-cran-janeaustenr
(see benchmarks/austen.py), and ``austen-short``: the two shortest of those five (Northanger Abbey, Sense
and Sensibility; 1.1 MB), where a 5-minute budget makes many passes over the text.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from multiprocessing import get_context
from pathlib import Path
from typing import Any

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before NumPy loads, here and in every worker

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from austen import TITLES, austen_novels  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "lm_sweep.jsonl"
HELD_OUT = "persuasion"
# many passes in a budget, as with a small corpus of several works: the two shortest novels (1.1 MB)
SHORT = ("northangerabbey", "sensesensibility")

# One change at a time from each kind's defaults: (field, values). LMConfig fields and TrainConfig fields.
GRID: dict[str, list[tuple[str, list[Any]]]] = {
    "lstm": [
        ("hidden", [128, 384]), ("seq_len", [64]), ("dropout", [0.1]), ("tie_weights", [True]),
        ("batch_size", [32]), ("lr_factor", [2.0]),
    ],
    "gru": [("hidden", [128]), ("lr_factor", [0.5, 2.0])],
    "rnn": [("hidden", [128]), ("lr_factor", [2.0])],
    "transformer": [
        ("hidden", [192]), ("layers", [3]), ("seq_len", [256]), ("lr_factor", [0.5, 2.0]),
        ("tie_weights", [True]),
    ],
}


def corpus_text(name: str) -> str:
    """The text of a corpus: pydoc, austen (five novels, Persuasion held out), austen-short (the two
    shortest of those) or one novel by title."""
    if name in ("austen", "austen-short") or name in TITLES:
        novels = austen_novels()
        if name in novels:
            return novels[name]
        chosen = SHORT if name == "austen-short" else [k for k in novels if k != HELD_OUT]
        return "".join(novels[k] for k in chosen)
    from nn.lm.text import load_corpus

    return load_corpus(name)


def settings(kind: str, changes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(LMConfig fields, TrainConfig fields) of a run: the kind's defaults with `changes` applied.

    ``lr_factor`` multiplies the kind's default learning rate (0.5: half); ``lr`` replaces it."""
    from nn.lm.models import LMConfig
    from nn.lm.training import TrainConfig

    model_fields, train_fields = set(LMConfig.__dataclass_fields__), set(TrainConfig.__dataclass_fields__)
    model = LMConfig.defaults(kind)
    train = TrainConfig.defaults(kind)
    for key, value in changes.items():
        if key == "lr_factor":
            key, value = "lr", train.get("lr", TrainConfig.lr) * value
        if key in model_fields:
            model[key] = value
        elif key in train_fields:
            train[key] = value
        else:
            raise SystemExit(f"lm_sweep: unknown setting {key!r}")
    if model.get("tie_weights") and kind != "transformer":
        model["embed"] = model.get("hidden", LMConfig.hidden)
    return model, train


def test_ids(vocab: Any, text: str) -> tuple[Any, int]:
    """(ids of `text`, how many of its characters were left out): a character the training text never
    had cannot be scored by a vocabulary without ``<unk>``, so it is dropped (and counted)."""
    kept = "".join(c for c in text if c in vocab.stoi)
    return vocab.encode(kept), len(text) - len(kept)


def train_one(spec: dict[str, Any]) -> dict[str, Any]:
    """Train one model as `spec` says and return its row (runs in a worker process)."""
    import numpy as np

    from nn.lm.models import LMConfig, build_model, evaluate
    from nn.lm.training import TrainConfig, Trainer, prepare_data

    text = corpus_text(spec["corpus"])
    train_cfg = TrainConfig(corpus=spec["corpus"], **spec["train"])
    vocab, train_ids, valid_ids = prepare_data(text, train_cfg)
    config = LMConfig(vocab_size=len(vocab), **{"context": train_cfg.seq_len} | spec["model"])
    model = build_model(config, rng=np.random.default_rng(train_cfg.seed))
    keep = spec.get("keep")
    out = keep or tempfile.mkdtemp(prefix="lm_sweep_")
    trainer = Trainer(model, vocab, train_ids, valid_ids, train_cfg, out, stream=io.StringIO())
    wall = time.perf_counter()
    result = trainer.run(minutes=spec["budget"], cpu_time=True, sample_length=0, progress=False, threads=1)
    assert result.evaluation is not None
    tested = {}
    if spec.get("test"):  # another text, never trained on: every token predicted once, in order
        ids, left_out = test_ids(vocab, corpus_text(spec["test"]))
        test = evaluate(model, ids)
        tested = {"test_loss": round(test.loss, 4), "test_tokens": test.tokens, "test_left_out": left_out}
    return spec | tested | {
        "model": model.config.to_dict(), "train": asdict(train_cfg), "parameters": model.num_parameters(),
        "steps": trainer.step,
        "tokens": trainer.tokens, "cpu_seconds": round(trainer.seconds, 1),
        "wall_seconds": round(time.perf_counter() - wall, 1), "valid_loss": round(result.evaluation.loss, 4),
        "valid_tokens": result.evaluation.tokens, "trigram": round(result.baselines["trigram"].loss, 4),
        "checkpoint": out if keep else None, "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def key_of(spec: dict[str, Any]) -> str:
    """What makes two runs the same: corpus, test text, budget and every setting that differs from its
    field's default (the per-kind defaults may move; a setting given at the field's default is no change)."""
    from nn.lm.models import LMConfig
    from nn.lm.training import TrainConfig

    def changed(given: dict[str, Any], cls: type) -> dict[str, Any]:
        fields = cls.__dataclass_fields__  # type: ignore[attr-defined]
        return {k: v for k, v in given.items() if k not in fields or k == "model" or fields[k].default != v}

    model, train = changed(spec["given_model"], LMConfig), changed(spec["given_train"], TrainConfig)
    return json.dumps([spec["corpus"], spec.get("test"), spec["budget"], model, train, spec.get("tag", "")],
                      sort_keys=True)


def recorded(results: Path = RESULTS) -> list[dict[str, Any]]:
    if not results.exists():
        return []
    return [json.loads(line) for line in results.read_text().splitlines() if line.strip()]


def run_all(specs: list[dict[str, Any]], jobs: int, results: Path = RESULTS) -> list[dict[str, Any]]:
    """Train every spec not yet recorded in `results`, `jobs` at a time, each in a fresh process; append
    each row; return the rows of all the specs."""
    done = {key_of(row) for row in recorded(results)}
    todo = [s for s in specs if key_of(s) not in done]
    print(f"{len(specs) - len(todo)} of {len(specs)} runs already recorded; {len(todo)} to go", flush=True)
    results.parent.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn"), max_tasks_per_child=1) as pool:
        for row in pool.map(train_one, todo):
            with results.open("a") as f:
                f.write(json.dumps(row) + "\n")
            print(f"{row['kind']:11s} {row['corpus']:7s} {row['budget']:g} min  {row['valid_loss']:.4f}  "
                  f"{row['steps']:5d} steps  {row['changes']}", flush=True)
    wanted = {key_of(s) for s in specs}
    return [row for row in recorded(results) if key_of(row) in wanted]


def spec(kind: str, corpus: str, budget: float, changes: dict[str, Any], keep: str | None = None,
         test: str | None = None, tag: str = "") -> dict:
    """A run: the model `kind` with `changes` to its defaults, trained on `corpus` for `budget` CPU
    minutes, scored on the corpus's held-out split (and on the text `test`, if given). `tag` names a
    round of runs: the same settings under another tag run again (the code or the defaults moved)."""
    model, train = settings(kind, changes)
    return {"kind": kind, "corpus": corpus, "test": test, "budget": budget, "changes": changes, "tag": tag,
            "model": {"model": kind} | model, "train": train, "keep": keep,
            "given_model": {"model": kind} | model, "given_train": train}


def parse_value(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown tables of the rows, one per corpus and budget, best first (as in docs/performance.md)."""
    out = []
    for corpus, budget, test in sorted({(r["corpus"], r["budget"], r.get("test") or "") for r in rows}):
        head = ("| kind | hidden x layers | T | B | peak lr | dropout | tied | nats/char | "
                + (f"on {test} | " if test else "") + "steps | tokens/CPU-s | parameters |")
        title = f"{corpus}, {budget:g} CPU-minute{'s' if budget != 1 else ''}"
        title += f", tested on {test}" if test else ""
        out += [f"{title}:", "", head, "|---" * (12 if test else 11) + "|"]
        same = [r for r in rows if (r["corpus"], r["budget"], r.get("test") or "") == (corpus, budget, test)]
        for r in sorted(same, key=lambda r: r["test_loss"] if test else r["valid_loss"]):
            m, t = r["model"], r["train"]
            speed = r["tokens"] / max(r["cpu_seconds"], 1e-9)
            tied = "yes" if m["tie_weights"] else "no"
            out.append(f"| {r['kind']} | {m['hidden']} x {m['layers']} | {t['seq_len']} | {t['batch_size']} "
                       f"| {t['lr']:g} | {m['dropout']:g} | {tied} | {r['valid_loss']:.3f} | "
                       + (f"{r['test_loss']:.3f} | " if test else "") + f"{r['steps']:,} "
                       f"| {speed:,.0f} | {r['parameters']:,} |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["screen", "run", "table"])
    parser.add_argument("--kind", action="append", choices=["rnn", "lstm", "gru", "transformer"])
    parser.add_argument("--corpus", action="append", choices=["pydoc", "austen", "austen-short"])
    parser.add_argument("--budget", type=float, default=1.0, help="CPU minutes per run")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="run: the changes")
    parser.add_argument("--keep", metavar="DIR", help="run: keep the checkpoints under DIR")
    parser.add_argument("--test", choices=TITLES, help="run: also score each model on this novel")
    parser.add_argument("--tag", default="", help="a round of runs (screen, run: recorded with each row; "
                        "table: only that round's rows)")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once")
    args = parser.parse_args()
    if args.what == "table":
        print(table([r for r in recorded() if not args.tag or r.get("tag", "") == args.tag]))
        return
    kinds, corpora = args.kind or ["lstm"], args.corpus or ["pydoc"]
    specs = []
    for corpus in corpora:
        for kind in kinds:
            if args.what == "run":
                changes = dict((k, parse_value(v)) for k, v in (item.split("=", 1) for item in args.set))
                keep = None
                if args.keep:
                    parts = [corpus, kind, f"{args.budget:g}", *(f"{k}{v}" for k, v in changes.items())]
                    name = "-".join(parts)
                    keep = os.path.join(args.keep, name)
                specs.append(spec(kind, corpus, args.budget, changes, keep, test=args.test, tag=args.tag))
                continue
            specs.append(spec(kind, corpus, args.budget, {}, tag=args.tag))
            for field, values in GRID[kind]:
                for value in values:
                    specs.append(spec(kind, corpus, args.budget, {field: value}, tag=args.tag))
    run_all(specs, args.jobs)


if __name__ == "__main__":
    main()
