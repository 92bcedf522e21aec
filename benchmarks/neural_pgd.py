"""Neural PGD speed: inference slices/s at batch 1 and 64, and training steps/s, CPU and GPU.

For a NeuralPGD of ``--iters`` copies x ``--blocks`` residual blocks of ``--features`` maps
(default: the shipped mri-brain-5x size, with shared weights: its independent copies run
the same convolutions in the same time; ``--features 128`` is the size used by Mardani et
al., NeurIPS 2018) on 192x160 complex images (``--shape H W``: another size) with 5x
variable-density masks, this prints
median wall-clock times of: inference (eval mode, no autograd) per slice and slices per
second at each batch size; a training step of (P2) with Adam at ``--train-batch``. It also
runs bf16 autocast on CUDA and on CPUs with native bf16 (AVX512-BF16/AMX), and
``torch.compile`` on CUDA. Ratios are to the fp32 eager run of the same device, from the
same process. "BN folded" is the same network with its batch norm folded into the
convolutions (``npgd.models.fold_batch_norm``, the form of a ``--no-norm`` model such as the
shipped ``mri-general``).

``--scales S`` adds the coarse branches of ``npgd.priors.ResNetProx(scales=S)`` (the shipped
``mri-general`` has 3). ``--models mri-general old.pt`` times trained networks instead
(fp32, batch 1, interleaved rounds).

Run:  python benchmarks/neural_pgd.py [--features 48] [--iters 10] [--scales 1] [--batches 1 64]
      [--repeats 5]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from _timing import median_seconds

from npgd import linops, models, train
from npgd._util import keep_freed_memory
from npgd.problems import mri


def problem(batch: int, device: str, shape: tuple[int, int] = (192, 160)):
    rng = np.random.default_rng(0)
    masks = np.stack([mri.vd_mask(shape, 5, seed=i) for i in range(batch)])
    x = (rng.standard_normal((batch, *shape)) + 1j * rng.standard_normal((batch, *shape)))
    x = torch.from_numpy(x.astype(np.complex64)).to(device)
    A = linops.MaskedFFT(torch.from_numpy(masks).to(device))
    return A, A(x), x


def compare(names: list[str], repeats: int, rounds: int = 5,
            shape: tuple[int, int] = (192, 160)) -> None:
    """fp32 inference on the CPU, batch 1, of trained networks in turn: ``rounds`` rounds that
    time every network (median of ``repeats`` runs each), so that the machine's drift hits
    them alike; prints each network's median over the rounds and its ratio to the first."""
    try:
        nets = {n: (models.load_model(n) if n.endswith(".pt") else models.pretrained(n)).eval()
                for n in names}
    except (FileNotFoundError, ValueError, KeyError) as e:
        raise SystemExit(f"neural_pgd.py: --models: {e}") from None
    A, y, _ = problem(1, "cpu", shape)
    times: dict[str, list[float]] = {n: [] for n in nets}
    for _ in range(rounds):
        for n, net in nets.items():
            def run(net=net):
                with torch.no_grad():
                    net(A, y)

            times[n].append(median_seconds(run, repeats, lambda: None))
    print(f"fp32 inference, {shape[0]}x{shape[1]} complex64, batch 1, CPU threads "
          f"{torch.get_num_threads()}, "
          f"median of {rounds} rounds x {repeats} runs")
    first = float(np.median(times[names[0]]))
    for n, ts in times.items():
        sec = float(np.median(ts))
        print(f"{n:40s} {sec:8.4f} s/slice  (rounds {min(ts):.3f}-{max(ts):.3f})  "
              f"{sec / first:5.2f}x the first", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--features", type=int, default=48)
    p.add_argument("--blocks", type=int, default=1)
    p.add_argument("--scales", type=int, default=1)
    p.add_argument("--models", nargs="+", default=None, metavar="NAME|FILE",
                   help="time these trained networks (shipped names or model.pt files) "
                        "side by side instead of an untrained one of the size above")
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 64])
    p.add_argument("--train-batch", type=int, default=4,
                   help="samples per timed training step (0: time no training)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--cpu-threads", type=int, default=None)
    p.add_argument("--shape", type=int, nargs=2, default=[192, 160], metavar=("H", "W"),
                   help="image size (default 192 160)")
    p.add_argument("--keep-freed-memory", action="store_true",
                   help="glibc malloc keeps freed memory (npgd._util.keep_freed_memory, as the "
                        "npgd command does); default: the process's own malloc settings")
    args = p.parse_args()
    if args.train_batch < 0:
        p.error(f"--train-batch must be >= 0, got {args.train_batch}")
    if args.keep_freed_memory and not keep_freed_memory():
        raise SystemExit("neural_pgd.py: --keep-freed-memory: not a glibc system")
    if args.cpu_threads:
        torch.set_num_threads(args.cpu_threads)
    if args.models:
        return compare(args.models, args.repeats, shape=tuple(args.shape))
    cfg = train.TrainConfig(features=args.features, blocks=args.blocks, iters=args.iters,
                            scales=args.scales)
    print(f"NeuralPGD {args.iters} copies x {args.blocks} RB x {args.features} features x "
          f"{args.scales} scale(s), "
          f"{args.shape[0]}x{args.shape[1]} complex64, torch {torch.__version__}, "
          f"CPU threads {torch.get_num_threads()}")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"{'device':6s} {'variant':14s} {'batch':>5s} {'s/slice':>9s} {'slices/s':>9s} "
          f"{'vs fp32':>8s}")
    for dev in devices:
        sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
        net = models.build_model(cfg).to(dev).eval()
        bf16 = train.native_bf16(dev)
        variants = {"fp32": (net, False),
                    "fp32 BN folded": (models.fold_batch_norm(net), False)}
        if bf16:
            variants["bf16 autocast"] = (net, True)
        if dev == "cuda":
            variants["bf16 compiled"] = (torch.compile(net), True)
        for batch in args.batches:
            A, y, _ = problem(batch, dev, tuple(args.shape))
            base = None
            for name, (model, amp) in variants.items():
                def run(model=model, amp=amp):
                    with torch.no_grad(), torch.autocast(dev, torch.bfloat16, enabled=amp):
                        model(A, y)

                sec = median_seconds(run, args.repeats, sync)
                base = base or sec
                print(f"{dev:6s} {name:14s} {batch:5d} {sec / batch:9.4f} {batch / sec:9.1f} "
                      f"{base / sec:7.2f}x", flush=True)
        if not args.train_batch:
            continue
        # training step of (P2) + Adam
        net.train()
        opt = torch.optim.Adam(net.parameters(), 1e-4)
        A, y, x = problem(args.train_batch, dev, tuple(args.shape))
        for name, amp in [("fp32", False)] + ([("bf16", True)] if bf16 else []):
            def step(amp=amp):
                with torch.autocast(dev, torch.bfloat16, enabled=amp):
                    its = net(A, y, return_all=True)
                loss = train.p2_loss(A, y, x, its)
                opt.zero_grad()
                loss.backward()
                opt.step()

            sec = median_seconds(step, args.repeats, sync)
            print(f"{dev:6s} train {name:8s} {args.train_batch:5d} {sec:9.4f} s/step, "
                  f"{args.train_batch / sec:.1f} samples/s", flush=True)


if __name__ == "__main__":
    main()
