"""How much of a row of the docs page "Generalization" is the draw of its masks and noise.

Every row of that page (``scripts/cross_dataset.py``) scores two slices under one draw of
the sampling masks and k-space noise (seed 1000). This script scores the default model
and CS-WV / CS-TV on the same slices under other draws (seeds), the CS weights held at the
values the page tuned (its column "Tuned rel"), and prints each row's margin of the model
to the better CS method per draw, their mean and range, and the held-out means per draw::

    python scripts/mask_draws.py --seeds 1000 2000 3000 4000

Seed 1000 reproduces the page's margins. CS is not re-tuned per draw: the margins are to
CS at the page's weights (re-tuning on every draw's calibration slice is the whole page
again, ``python scripts/cross_dataset.py --seed N``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cross_dataset as cd  # noqa: E402  (the sources, slices and conditions of the page)

from npgd.experiments.evaluate import calibration_slices, evaluate  # noqa: E402
from npgd.experiments.tune import cs_methods  # noqa: E402
from npgd.models import pretrained  # noqa: E402


def page_weights(page: Path) -> dict[tuple[str, str], dict[str, float]]:
    """The tuned CS weights of every (source, condition) row of the generated page."""
    rows = page.read_text().split("\n   * - ")[2:]  # after the header row
    out = {}
    for r in rows:
        cells = [c.strip() for c in r.split("\n     - ")]
        wv, tv = (float(v) for v in cells[-1].split("\n")[0].split(","))
        out[(cells[0], cells[2])] = {"CS-WV": wv, "CS-TV": tv}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1000, 2000, 3000, 4000])
    p.add_argument("--page", type=Path, default=cd.ROOT / "docs" / "generalization.rst")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    weights = page_weights(args.page)
    net = pretrained()
    margins: dict[tuple[str, str, bool], list[float]] = {}
    for src, trained, load in cd.SOURCES:
        x = cd._pick(load(), 3)
        calib = calibration_slices(len(x), 1)
        scored = [i for i in range(len(x)) if i not in calib]
        for label, db in cd.CONDITIONS:
            row = margins.setdefault((src, label, trained), [])
            for seed in args.seeds:
                # every slice's mask is seed + its index, as on the page, which scores the
                # slices that did not tune CS
                res, _, _ = evaluate(x, net, name="model", accel=cd.ACCEL, mask="vd",
                                     noise_db=db, classic=False, seed=seed,
                                     extra=cs_methods(weights[(src, label)]))
                snr = {r["method"]: np.mean([r["snr_per_slice"][i]["value"] for i in scored])
                       for r in res["methods"]}
                row.append(float(snr["model"] - max(snr["CS-WV"], snr["CS-TV"])))
            print(f"{src:42s} {label:9s} " + " ".join(f"{m:+6.2f}" for m in row)
                  + f"   mean {np.mean(row):+6.2f}  range {max(row) - min(row):.2f}", flush=True)
    for i, seed in enumerate(args.seeds):
        held = [v[i] for (_, _, t), v in margins.items() if not t]
        mr = [v[i] for (s, _, t), v in margins.items() if not t and s in cd.VOLUMES]
        print(f"seed {seed}: held-out mean {np.mean(held):+.2f} dB, held-out MR mean "
              f"{np.mean(mr):+.2f} (worst {min(mr):+.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
