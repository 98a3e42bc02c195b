"""`tinygrad-seq eval`, `sample`, `score` and `export`: the commands that read a trained run."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Any

import numpy as np

from .checkpoint import load_model
from .cli_options import UsageError, checkpoint_path
from .models import Evaluation, baselines, evaluate
from .progress import work_bar
from .rundir import LOCK
from .sampling import prompted_samples, score
from .text import Vocab, load_corpus
from .training import CHECKPOINT, CURVE, TrainConfig, trained_split


def table(model_eval: Evaluation, base: dict[str, Evaluation], name: str) -> str:
    rows = [(f"model ({name})", model_eval)] + [(f"{k} baseline" if k == "uniform" else
                                                  f"{k} (Kneser-Ney)" if k in ("bigram", "trigram") else k, e)
                                                 for k, e in base.items()]
    lines = [f"  {'':<24}{'nats/token':>11}{'bits/token':>12}{'perplexity':>12}"]
    lines += [f"  {label:<24}{_number(e.loss, 3):>11}{_number(e.bits_per_token, 3):>12}"
              f"{_number(e.perplexity):>12}" for label, e in rows]
    lines.append(f"  ({model_eval.tokens:,} tokens predicted)")
    return "\n".join(lines)


def _number(x: float, decimals: int = 2) -> str:
    """A number for a table: fixed decimals, or three significant digits when it is huge (1e+304)."""
    return f"{x:.{decimals}f}" if abs(x) < 1e6 or not math.isfinite(x) else f"{x:.3g}"


def _json_safe(value: Any) -> Any:
    """`value` with every NaN or infinity made null, so that the output is JSON (which has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


UNK_WARNING = 0.05  # above this share of <unk> among the predicted tokens, a loss says little: warn


def unk_report(result: Evaluation, vocab: Vocab, text: str | None = None) -> list[str]:
    """Lines that go next to a loss: the share of <unk> among its predicted tokens and the words behind
    them, a warning above `UNK_WARNING`; nothing for a vocabulary without <unk>."""
    if vocab.unk_id is None:
        return []
    unknown = vocab.unknown(text) if text else None
    kind = "words" if vocab.level == "word" else "characters"
    line = f"  <unk>: {100 * result.unk_share:.1f}% of the predicted tokens ({result.unk:,})"
    if unknown:
        shown = ", ".join(repr(w) for w, _ in unknown.most_common(5))
        line += f"; {len(unknown):,} distinct {kind} not in the vocabulary, e.g. {shown}"
    lines = [line]
    if result.unk_share > UNK_WARNING:
        lines.append(f"  warning: {100 * result.unk_share:.0f}% of the tokens are <unk>, so the loss mostly "
                     f"says how well <unk> is predicted; compare models on text with fewer unknown {kind} "
                     "(or a larger vocabulary: --max-vocab, --min-freq)")
    return lines


def run_eval(args: argparse.Namespace) -> int:
    model, vocab, ckpt = load_model(checkpoint_path(args.dir))
    train_cfg = TrainConfig.from_dict(ckpt.meta.get("train", {}))
    train_ids, valid_ids, text, why = trained_split(ckpt, vocab, train_cfg)
    if args.corpus is not None:
        text = load_corpus(args.corpus)
        valid_ids, split = vocab.encode(text), args.corpus
    elif why or valid_ids is None:
        raise UsageError(f"{why}: its validation split is not the text the model was measured on; evaluate "
                         "on a file instead with --corpus PATH (read with the checkpoint's vocabulary)")
    else:
        split = "validation split"
    batch = args.batch_size or train_cfg.eval_batch
    try:
        with work_bar(sys.stderr, len(valid_ids), "eval") as advance:
            result = evaluate(model, valid_ids, batch_size=batch, unk_id=vocab.unk_id, advance=advance)
    except ValueError as error:  # fewer than 2 tokens
        raise UsageError(str(error)) from None
    base = baselines(train_ids, valid_ids, len(vocab)) if train_ids is not None else {}
    notes = unk_report(result, vocab, text)
    if args.json:
        unknown = vocab.unknown(text) if vocab.unk_id is not None else {}
        out = result.to_dict() | {"baselines": {k: e.to_dict() for k, e in base.items()}, "split": split,
                                  "step": ckpt.step, "model": ckpt.config.to_dict(),
                                  "unknown_types": len(unknown),
                                  "unk_warning": result.unk_share > UNK_WARNING}
        print(json.dumps(_json_safe(out), allow_nan=False))
        return 0
    print(f"{ckpt.config.model} model at step {ckpt.step}, on the {split} of {train_cfg.corpus!r}"
          if split == "validation split" else f"{ckpt.config.model} model at step {ckpt.step}, on {split}")
    print(table(result, base, ckpt.config.model))
    for line in notes:
        print(line)
    if not base:
        print(f"  (no baselines: {why})")
    return 0


SAMPLED_TOKENS = 1_000_000  # the most tokens `sample` generates in one call (--num x --length)


def run_sample(args: argparse.Namespace) -> int:
    if args.num * args.length > SAMPLED_TOKENS:
        raise UsageError(f"--num {args.num} x --length {args.length} tokens is more than the "
                         f"{SAMPLED_TOKENS:,} one call generates")
    model, vocab, _ = load_model(checkpoint_path(args.dir))
    try:
        texts = prompted_samples(model, vocab, args.num, args.length, args.temperature, args.top_k, args.seed,
                         args.prompt)
    except ValueError as error:  # an unknown character in the prompt, a negative temperature
        raise UsageError(str(error)) from None
    print("\n---\n".join(texts))
    unknown = vocab.unknown(args.prompt) if vocab.unk_id is not None else {}
    if unknown and vocab.unk_id is not None:
        kind = "word" if vocab.level == "word" else "character"
        print(f"note: the prompt's {kind}{'s' if len(unknown) > 1 else ''} " + ", ".join(map(repr, unknown))
              + f" {'are' if len(unknown) > 1 else 'is'} not in the vocabulary: the model read "
              f"{vocab.itos[vocab.unk_id]} instead", file=sys.stderr)
    return 0


def run_score(args: argparse.Namespace) -> int:
    if not args.sentences and args.file is None:
        raise UsageError("give sentences to score, or --file PATH")
    model, vocab, _ = load_model(checkpoint_path(args.dir))
    texts = list(args.sentences) + ([load_corpus(args.file)] if args.file is not None else [])
    try:
        scored = []
        for text in texts:
            with work_bar(sys.stderr, len(vocab.encode(text)), "score") as advance:
                scored.append(score(model, vocab, text, advance=advance))
        scores = sorted(scored, key=lambda s: -s.total)
    except ValueError as error:  # an unknown character, nothing to score
        raise UsageError(str(error)) from None
    print(f"{'rank':<6}{'log P (nats)':>13}{'per token':>11}{'tokens':>8}  sentence")
    for rank, s in enumerate(scores, 1):
        shown = s.text if len(s.text) <= 200 else f"{s.text[:60]!r}... ({len(s.text):,} characters)"
        print(f"{rank:<6}{s.total:>13.3f}{s.per_token:>11.3f}{len(s.logp):>8}  {shown}")
    unknown = sorted({t for s in texts for t in vocab.unknown(s)})
    if unknown and vocab.unk_id is not None:
        kind = "word" if vocab.level == "word" else "character"
        print(f"\nnote: {len(unknown)} {kind}{' is' if len(unknown) == 1 else 's are'} not in the "
              f"vocabulary and scored as {vocab.itos[vocab.unk_id]}: " + ", ".join(map(repr, unknown[:10]))
              + (", ..." if len(unknown) > 10 else ""))
    if len(scores) > 1:
        gap = scores[0].total - scores[1].total
        print(f"\nthe first is e^{gap:.2f} = {np.exp(min(gap, 700)):.3g} times as likely as the second")
    if args.per_token:
        for s in scores:
            print(f"\n{s.text}")
            print("  " + "  ".join(f"{tok!r} {lp:.2f}" for tok, lp in s.tokens))
    return 0


def run_export(args: argparse.Namespace) -> int:
    from .export import export_safetensors

    path = checkpoint_path(args.dir)
    run_dir = os.path.dirname(os.path.abspath(path))
    own = {os.path.realpath(os.path.join(run_dir, name)) for name in (CHECKPOINT, CURVE, LOCK)}
    if os.path.realpath(args.output) in own | {os.path.realpath(path)}:
        raise UsageError(f"-o {args.output}: that is a file of the run itself; write the export elsewhere")
    model, vocab, ckpt = load_model(path)
    try:  # a missing safetensors (MissingExtra) goes up to main: exit code 3
        arrays = export_safetensors(model, vocab, args.output, step=ckpt.step, overwrite=args.force)
    except FileExistsError:
        raise UsageError(f"-o {args.output} already exists; pass --force to replace it") from None
    said = sys.stdout if os.path.isfile(args.output) else sys.stderr  # -o /dev/stdout: keep it the file
    print(f"wrote {args.output}: {len(arrays)} tensors ({model.num_parameters():,} parameters) of the "
          f"{ckpt.config.model} model at step {ckpt.step}, under torch.nn's names; the metadata holds its "
          "config, vocabulary and SHA-256 (docs/pytorch.md: Weights out to PyTorch)", file=said)
    return 0
