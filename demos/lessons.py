"""`make lessons`: run every lesson in full, copy its pictures and pages to docs/, record its numbers, times.

    .venv/bin/python demos/lessons.py              # every demos/NN_*.py, one at a time (several minutes)
    .venv/bin/python demos/lessons.py 05 08        # only these lessons; the others keep their entries

Each lesson runs in this process, in full and then with --quick, each timed by the wall clock and
by the CPU time it used (on a machine shared with other jobs, wall time alone says little). Its
pictures (the lesson's ``PICTURES``) are copied from out/lessons/<name>/ to docs/img/NN_<file>, the HTML
pages it writes (the BPTT explorer, ...) to docs/explorers/NN_<file> (the lesson's page on the site
embeds them), and
docs/lessons.json gets, per lesson: the wall times, the numbers its ``main`` returned (scalars and short
lists), and ``figures``, the wording of those numbers on the lesson's page (``readme_figures``). The page
(docs/lessons/NN_name.md) quotes the figures; tests/test_lesson_pages.py checks that every one of them is
on it, so a lesson whose numbers change fails the tests until its page is rewritten from the new numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import time
from pathlib import Path

from common import load_lesson

ROOT = Path(__file__).resolve().parent.parent
DEMOS = ROOT / "demos"
RESULTS = ROOT / "docs" / "lessons.json"
IMAGES = ROOT / "docs" / "img"
PAGES = ROOT / "docs" / "explorers"


def lesson_names() -> list[str]:
    """demos/NN_name.py for every lesson, in order: ['01_tiny_char_rnn', '02_bptt_sum', ...]."""
    return sorted(p.stem for p in DEMOS.glob("*.py") if re.match(r"\d\d_", p.name))


def plain(value, max_list: int = 64):
    """`value` as JSON: NumPy scalars become numbers, dict keys strings; long arrays and objects dropped."""
    if hasattr(value, "tolist") and not isinstance(value, (list, tuple)):
        value = value.tolist()
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        items = {str(k): plain(v, max_list) for k, v in value.items()}
        return {k: v for k, v in items.items() if v is not None or value.get(k) is None}
    if isinstance(value, (list, tuple)) and len(value) <= max_list:
        items = [plain(v, max_list) for v in value]
        return None if any(v is None and w is not None for v, w in zip(items, value)) else items
    return None


def run_lesson(name: str, out: Path) -> dict:
    """Run one lesson in full and with --quick; copy its pictures; return its docs/lessons.json entry."""
    module = load_lesson(name)
    load_average = round(os.getloadavg()[0], 1)  # other jobs on the cores: the times below depend on it
    print(f"\n===== {name} (full)", flush=True)
    start, cpu = time.perf_counter(), time.process_time()
    result = module.main(["--out", str(out / name)])
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    print(f"\n===== {name} (--quick)", flush=True)
    start, cpu = time.perf_counter(), time.process_time()
    module.main(["--quick", "--out", str(out / f"{name}_quick")])
    quick_seconds, quick_cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    pictures = []
    for picture in module.PICTURES:
        target = f"{name[:2]}_{picture}"
        shutil.copyfile(out / name / picture, IMAGES / target)
        pictures.append(target)
    pages = []
    for page in sorted((out / name).glob("*.html")):
        pages.append(PAGES / f"{name[:2]}_{page.name}")
        shutil.copyfile(page, pages[-1])
    print(f"===== {name}: {seconds:.1f} s full ({cpu_seconds:.1f} s CPU), {quick_seconds:.1f} s --quick "
          f"({quick_cpu_seconds:.1f} s CPU); wrote "
          + ", ".join([f"docs/img/{p}" for p in pictures] + [str(p.relative_to(ROOT)) for p in pages]),
          flush=True)
    return {"seconds": round(seconds, 1), "cpu_seconds": round(cpu_seconds, 1),
            "quick_seconds": round(quick_seconds, 1), "quick_cpu_seconds": round(quick_cpu_seconds, 1),
            "load_average": load_average, "pictures": pictures,
            "figures": module.readme_figures(result), "result": plain(result)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("only", nargs="*", help="lesson numbers (05) or names to run; default: all")
    parser.add_argument("--out", default=str(ROOT / "out" / "lessons"), help="where the lessons write")
    args = parser.parse_args(argv)
    names = [n for n in lesson_names() if not args.only or any(n.startswith(o) for o in args.only)]
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"lessons": {}}
    IMAGES.mkdir(parents=True, exist_ok=True)
    PAGES.mkdir(parents=True, exist_ok=True)
    for name in names:
        results["lessons"][name] = run_lesson(name, Path(args.out))
        results["lessons"] = dict(sorted(results["lessons"].items()))
        results["cpus"] = os.cpu_count()
        RESULTS.write_text(json.dumps(results, indent=1, sort_keys=False) + "\n")
    print(f"\n{'lesson':<22} {'full: wall':>10} {'CPU (s)':>8} {'--quick: wall':>14} {'CPU (s)':>8} "
          f"{'load':>5}")
    for name, e in results["lessons"].items():
        print(f"{name:<22} {e['seconds']:>10.1f} {e['cpu_seconds']:>8.1f} {e['quick_seconds']:>14.1f} "
              f"{e['quick_cpu_seconds']:>8.1f} {e['load_average']:>5.1f}")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return results


if __name__ == "__main__":
    main()
