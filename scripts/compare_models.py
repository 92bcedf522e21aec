"""Side-by-side table of several models' cross-dataset runs (``scripts/cross_dataset.py --json``).

Every run scores the same sources, conditions, slices, masks and tuned CS; this script only
reads their JSON files and writes one reStructuredText table (model minus best tuned CS, dB,
per source and condition, with the CS and zero-filled SNRs of the first run) and the mean
margins, for inclusion in the docs::

    python scripts/cross_dataset.py --model mri-brain-5x --json b5.json --page /tmp/b5.rst
    python scripts/cross_dataset.py --model mri-general --json gen.json
    python scripts/compare_models.py b5.json gen.json --out docs/_generated/model_comparison.rst
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def _model_key(snr: dict) -> str:
    return next(k for k in snr if k.startswith("NPGD"))


def render(runs: list[dict]) -> str:
    """The table and summary lines for the cross-dataset runs ``runs`` (parsed JSON)."""
    names = [_model_key(r["rows"][0]["snr"]) for r in runs]
    index = [{(row["source"], row["condition"]): row for row in r["rows"]} for r in runs]
    keys = [(row["source"], row["condition"]) for row in runs[0]["rows"]]
    head = ["Source", "Domain", "Condition", "Zero-filled", "CS-WV", "CS-TV"]
    head += [f"{n} - best CS" for n in names]
    lines = [".. Written by scripts/compare_models.py; do not edit by hand.", "",
             ".. list-table::", "   :header-rows: 1", ""]
    lines += ["   * - " + head[0]] + [f"     - {h}" for h in head[1:]]
    for k in keys:
        first = index[0][k]
        cells = [k[0], "training" if first["in_domain"] else "held out", k[1]]
        cells += [f"{first['snr'][m]:.2f}" for m in ("zero-filled", "CS-WV", "CS-TV")]
        cells += [f"{ix[k]['margin']:+.2f}" for ix in index]
        lines += ["   * - " + cells[0]] + [f"     - {c}" for c in cells[1:]]
    lines.append("")
    for domain, flag in (("training", True), ("held-out", False)):
        parts = []
        for n, ix in zip(names, index, strict=True):
            m = [ix[k]["margin"] for k in keys if ix[k]["in_domain"] == flag]
            parts.append(f"{n} {np.mean(m):+.2f} dB ({sum(v >= 0 for v in m)} of {len(m)} "
                         "at or above the best tuned CS)")
        lines.append(f"- {domain} sources, mean margin: " + "; ".join(parts))
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="JSON files written by cross_dataset.py --json")
    p.add_argument("--out", default="docs/_generated/model_comparison.rst")
    a = p.parse_args()
    runs = [json.loads(Path(f).read_text()) for f in a.runs]
    Path(a.out).write_text(render(runs))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
