"""The configuration of a training run (stored in every checkpoint it writes).

Every field of :class:`TrainConfig` carries its help text in ``metadata["help"]``; the
``npgd train`` options are built from these fields and their types (:mod:`npgd.cli`), so a
new field is a new option with its help, and nothing else needs to change.
"""

import dataclasses
from typing import Any

from npgd._util import UsageError, check_int, check_positive_float
from npgd.models.zoo import check_architecture
from npgd.train.synth import P_IMAGES, P_NOISELESS, P_REF_NOISE

__all__ = ["TrainConfig"]


def _field(default: Any, help: str, **kw: Any) -> Any:
    return dataclasses.field(default=default, metadata={"help": help, **kw})


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run depends on (stored in every checkpoint).

    Defaults follow Mardani et al., "Neural Proximal Gradient Descent for Compressive
    Imaging" (NeurIPS 2018), Sec. 5.2 (MRI): 10 copies × 1 residual block of 128 features,
    shared weights, (P2) with :math:`\\beta = 0.75`, Adam (momentum 0.9) at learning rate
    :math:`10^{-5}` halved every 10k steps, mini-batch 2, a fresh 5× variable-density mask
    per sample. ``gan_weight`` > 0 adds the LSGAN term of Mardani et al., "Recurrent
    Generative Adversarial Networks for Proximal Learning and Automated Compressive Image
    Recovery" (:mod:`npgd.train.losses`): the generator loss becomes
    :math:`(1 - w)\\,\\text{(P2)} + w\\,\\mathbb{E}[(1 - D(\\hat x))^2]` with :math:`w` ramped
    from 0 to ``gan_weight`` over ``gan_warmup`` steps (that paper: 0.1 after about 1000), and a
    :class:`~npgd.train.adversarial.Discriminator` trained on (P1.1) alongside.
    ``init`` starts a fresh run from the weights of a checkpoint (a path to a ``model.pt`` or
    ``last.pt``) or of a shipped model (a name in :data:`npgd.models.zoo.MODELS`) of the same
    architecture, with a fresh optimizer and schedule: fine-tuning, or a second schedule; a
    shared-weights checkpoint may also start a ``shared=False`` run, each copy from the shared
    proximal (the recurrent-GANCS paper's Table 1: independent copies gain about 1 dB).
    ``task`` ``"sr"`` trains super-resolution by ``factor`` instead (Sec. 5.3 of the first
    paper: block averaging, :class:`npgd.train.tasks.SRTask`) on real, augmented crops of
    natural images (``data="natural"``, ``shape`` their size), with a one-channel proximal.
    ``amp`` runs the network under bf16 autocast on CUDA, and on CPUs with native bf16
    (AVX512-BF16 or AMX); the loss and the data steps stay in float32.

    Every value is checked on construction (a :class:`npgd._util.UsageError`, a ValueError,
    naming the field and the expected range); the architecture fields have the upper bounds
    of :func:`npgd.models.zoo.check_architecture`.

    Examples
    --------
    >>> TrainConfig(features=8, iters=2).iters
    2
    >>> TrainConfig(task="sr", factor=4).data, TrainConfig(task="sr", factor=4).shape
    ('natural', (48, 48))
    >>> TrainConfig(shape=(0, 0))
    Traceback (most recent call last):
    ...
    npgd._util.UsageError: TrainConfig: shape must be two ints in [8, 8192], got (0, 0)
    """

    features: int = _field(128, "feature maps of each residual block")
    blocks: int = _field(1, "residual blocks per proximal network")
    scales: int = _field(1, "resolutions of each proximal network, in [1, 8]: 1 (the "
                         "papers'), or coarse branches at 1/2, 1/4, ... of the image size "
                         "after the residual blocks (npgd.priors.ResNetProx)")
    center: bool = _field(False, "the proximal removes each sample's mean before the network "
                          "and restores it after (npgd.priors.ResNetProx center), so that "
                          "images with a large offset and little contrast are seen at full "
                          "contrast")
    floor: float | None = _field(None, "quantile in [0, 0.5): the proximal removes this "
                                 "quantile of each sample's real part, where positive, before "
                                 "the network and restores it after (npgd.priors.ResNetProx "
                                 "floor), so that the darkest pixels of a view without a dark "
                                 "background become its zero level (default: the --init "
                                 "file's, 0 without --init; the default model has 0.001)",
                                 metavar="Q")
    iters: int = _field(10, "unrolled iterations (copies of the proximal network)")
    shared: bool = _field(True, "one proximal network shared by all iterations "
                          "(--no-shared: one per iteration)")
    norm: bool = _field(True, "batch norm in the residual blocks (--no-norm: none; with "
                        "shared weights one set of running statistics must serve every "
                        "iteration, which can drift from each iteration's own at eval time)")
    data_consistency: str = _field("gradient", "'gradient' (a learned gradient step) or "
                                   "'hard' (replace the measured k-space samples)",
                                   choices=("gradient", "hard"))
    task: str = _field("mri", "what to invert: 'mri' (single-coil k-space sampling of complex "
                       "images, --accel and --mask) or 'sr' (super-resolution of real images "
                       "by block averaging, --factor)", choices=("mri", "sr"))
    factor: int = _field(2, "super-resolution factor (--task sr; in [2, 16])")
    data: str | None = _field(None, "training images. mri: 'brain' (the default: the "
                              "embedded sample's training slices), a NIfTI file/folder, a "
                              "folder of fastMRI .h5 files, 'mix' (domain-randomized "
                              "images, phases, masks 2.5-9x and noise of npgd.train.synth; "
                              "--accel, --mask, --noise-std and --shape then do not apply) "
                              "or 'mix-crisp' (the same, a tenth of the samples crisp "
                              "piecewise-constant scenes with one-pixel edges as digital "
                              "phantoms have). "
                              "sr: 'natural' (the default: augmented crops of "
                              "scikit-image's training images, its faces and the brain "
                              "training slices, npgd.problems.sr.PatchSampler) or "
                              "'natural-leaves' (the same, a third of the crops synthetic "
                              "dead-leaves images, npgd.train.synth.dead_leaves)")
    p_noiseless: float = _field(P_NOISELESS, "fraction of noiseless samples with --data mix or "
                                "mix-crisp, in [0, 1] (the others get k-space noise of "
                                "15-45 dB SNR); it also sets the validation samples' noise")
    p_images: float = _field(P_IMAGES, "fraction of samples drawn from scikit-image's "
                             "training images with --data mix or mix-crisp, in [0, 1] (MR "
                             "volumes, label maps and random shapes share the rest)")
    p_reference_noise: float = _field(P_REF_NOISE, "fraction of samples with --data mix or "
                                      "mix-crisp whose reference image holds noise of its "
                                      "own (Rician or complex, 0.3-12 percent of the bright "
                                      "tissue), in [0, 1]")
    p_leaves: float = _field(0.0, "fraction of base images with --data mix or mix-crisp that are "
                             "synthetic dead-leaves images (npgd.train.synth.dead_leaves; "
                             "natural-image statistics), in [0, 1]")
    p_ghost: float = _field(0.0, "fraction of samples with --data mix or mix-crisp whose "
                            "reference carries an EPI Nyquist ghost (a copy shifted by half "
                            "the field of view, 2-15 percent; npgd.train.synth.nyquist_ghost), "
                            "in [0, 1]")
    p_low_contrast: float = _field(0.0, "fraction of samples with --data mix or mix-crisp "
                                   "whose reference has its contrast compressed towards its "
                                   "mean by 0.1-0.6, everywhere or inside the object "
                                   "(npgd.train.synth.low_contrast), in [0, 1]")
    p_magnified: float = _field(0.0, "fraction of samples with --data mix or mix-crisp drawn "
                                "magnified 1.5-3.5 times (a voxel of the source spans several "
                                "pixels, as in 512-pixel or interpolated matrices; "
                                "npgd.train.synth.MAGNIFIED), in [0, 1]")
    p_small_calib: float = _field(0.0, "fraction of variable-density masks with --data mix or "
                                  "mix-crisp whose fully sampled centre is as small, relative "
                                  "to the matrix, as vd_mask's default 12 samples on a "
                                  "256-768 matrix (npgd.train.synth.SMALL_CALIB), in [0, 1]")
    shape: tuple[int, int] | None = _field(None, "crop/pad training images to H W (mri "
                                           "default: as read; sr: square crops, default "
                                           "48 48)", metavar=("H", "W"))
    accel: float = _field(5.0, "undersampling factor of the training masks (> 1; mri)")
    mask: str = _field("vd", "mask family: 'vd' (variable density), 'radial' or 'lines' "
                       "(mri)", choices=("vd", "radial", "lines"))
    noise_std: float = _field(0.0, "standard deviation of the measurement noise (>= 0): "
                              "complex k-space noise (mri), Gaussian noise on the "
                              "low-resolution image (sr)")
    val_slices: int = _field(6, "slices (mri) or crops (sr) held out for validation (0: no "
                             "validation, model.pt is then the last weights)")
    steps: int = _field(30000, "training steps (the only setting --resume may change)")
    batch_size: int = _field(2, "samples per step and process")
    lr: float = _field(1e-5, "Adam learning rate")
    lr_halve_every: int = _field(10000, "halve the learning rate every this many steps")
    beta: float = _field(0.75, "weight of the image error in (P2), in [0, 1]; the rest "
                         "weighs the data fit of every iterate")
    amp: bool = _field(True, "bf16 autocast where it pays off (CUDA, CPUs with native bf16)")
    seed: int = _field(0, "seed of every random draw (samples, masks, noise, weights)")
    val_every: int = _field(500, "validate every this many steps")
    ckpt_every: int = _field(500, "write last.pt every this many steps")
    gan_weight: float = _field(0.0, "final weight of the LSGAN term, in [0, 1) (0: off)")
    gan_warmup: int = _field(1000, "steps over which the LSGAN weight ramps up from 0")
    loss: str = _field("p2", "'p2': (P2) per pixel; 'normalized': each sample's (P2) over "
                       "its energy (squared NRMSE); 'log': the mean of that in dB, so every "
                       "sample's relative error counts alike, clean and noisy ones",
                       choices=("p2", "normalized", "log"))
    init: str | None = _field(None, "start from these weights (a model.pt/last.pt or a "
                              "shipped model name; same architecture, or a shared-weights "
                              "one to untie with --no-shared, or a batch-norm one to fold "
                              "into its convolutions with --no-norm, or one with fewer "
                              "--blocks, the new ones starting near the identity, with "
                              "--no-norm, or with fewer --scales, the new branches starting "
                              "at zero, or with fewer --iters, the new copies starting as "
                              "its last, or one without --center or with another --floor, "
                              "its weights unchanged), "
                              "with a fresh optimizer",
                              metavar="CHECKPOINT|MODEL")
    new_lr_scale: float = _field(1.0, "learning-rate multiplier of the weights --init does "
                                 "not provide (added --blocks or --scales; > 0): they start "
                                 "at or near zero and learn slowly at a fine-tuning rate")

    def __post_init__(self) -> None:
        where = "TrainConfig"
        try:
            check_architecture({f: getattr(self, f) for f in
                                ("features", "blocks", "scales", "iters", "shared", "norm",
                                 "center", "floor", "data_consistency")},
                               where)
            if self.shape is not None:
                self.shape = _shape(self.shape)
            self._check_task(where)
            if self.mask not in ("vd", "radial", "lines"):
                raise ValueError(
                    f"{where}: mask must be 'vd', 'radial' or 'lines', got {self.mask!r}")
            if not isinstance(self.data, str) or not self.data:
                raise ValueError(f"{where}: data must be a non-empty string, got {self.data!r}")
            if self.init is not None and (not isinstance(self.init, str) or not self.init):
                raise ValueError(f"{where}: init must be a path or model name, got "
                                 f"{self.init!r}")
            if check_positive_float(where, "accel", self.accel) < 1:
                raise ValueError(f"{where}: accel must be a finite real number >= 1, got "
                                 f"{self.accel!r}")
            check_positive_float(where, "noise_std", self.noise_std, allow_zero=True)
            check_positive_float(where, "lr", self.lr)
            check_positive_float(where, "new_lr_scale", self.new_lr_scale)
            for name in ("beta", "gan_weight", "p_noiseless", "p_images", "p_reference_noise",
                         "p_leaves", "p_ghost", "p_low_contrast", "p_magnified",
                         "p_small_calib"):
                v = check_positive_float(where, name, getattr(self, name), allow_zero=True)
                if v > 1 or (name == "gan_weight" and v == 1):
                    interval = "[0, 1)" if name == "gan_weight" else "[0, 1]"
                    raise ValueError(f"{where}: {name} must be in {interval}, got {v!r}")
            for name, default in (("p_noiseless", P_NOISELESS), ("p_images", P_IMAGES),
                                  ("p_reference_noise", P_REF_NOISE), ("p_leaves", 0.0),
                                  ("p_ghost", 0.0), ("p_low_contrast", 0.0),
                                  ("p_magnified", 0.0), ("p_small_calib", 0.0)):
                if getattr(self, name) != default and self.data not in ("mix", "mix-crisp"):
                    raise ValueError(f"{where}: {name} applies to data 'mix' and 'mix-crisp' "
                                     f"only, got data {self.data!r}")
            for name in ("steps", "batch_size", "val_every", "ckpt_every", "lr_halve_every"):
                check_int(where, name, getattr(self, name), 1)
            for name in ("val_slices", "gan_warmup", "seed"):
                check_int(where, name, getattr(self, name), 0)
            if self.loss not in ("p2", "normalized", "log"):
                raise ValueError(f"{where}: loss must be 'p2', 'normalized' or 'log', got "
                                 f"{self.loss!r}")
            for name in ("shared", "norm", "amp"):
                if not isinstance(getattr(self, name), bool):
                    raise ValueError(f"{where}: {name} must be True or False, got "
                                     f"{getattr(self, name)!r}")
        except UsageError:
            raise
        except (TypeError, ValueError) as e:
            raise UsageError(str(e)) from None

    def _check_task(self, where: str) -> None:
        """``task`` and ``factor``, and what the task implies for ``data`` and ``shape``."""
        if self.task not in ("mri", "sr"):
            raise ValueError(f"{where}: task must be 'mri' or 'sr', got {self.task!r}")
        check_int(where, "factor", self.factor, 2, 16)
        if self.task == "mri":
            self.data = "brain" if self.data is None else self.data
            return
        self.data = "natural" if self.data is None else self.data
        if self.data not in ("natural", "natural-leaves"):
            raise ValueError(f"{where}: data for task 'sr' must be 'natural' (augmented crops "
                             f"of scikit-image's training images, faces and brain slices) or "
                             f"'natural-leaves' (with dead-leaves images), got {self.data!r}")
        if self.data_consistency != "gradient":
            raise ValueError(f"{where}: data_consistency for task 'sr' must be 'gradient' "
                             "('hard' needs a masked orthonormal Fourier operator), got "
                             f"{self.data_consistency!r}")
        self.shape = (48, 48) if self.shape is None else self.shape
        h, w = self.shape
        if h != w or h % self.factor:
            raise ValueError(f"{where}: shape for task 'sr' must be square crops divisible by "
                             f"factor {self.factor}, got {self.shape!r}")

    @classmethod
    def from_dict(cls, config: dict, where: str = "TrainConfig") -> "TrainConfig":
        """A config from a stored dict (a checkpoint's ``"config"``): fields it lacks take
        their defaults (files written before they existed), keys this version does not know
        (written by newer code) are a UsageError naming them.

        Examples
        --------
        >>> TrainConfig.from_dict({"features": 8, "shape": [32, 24]}).shape
        (32, 24)
        """
        names = {f.name for f in dataclasses.fields(cls)}
        extra = sorted(set(config) - names)
        if extra:
            raise UsageError(f"{where}: settings this version of npgd does not know: "
                             f"{', '.join(extra)}; train with the npgd version that wrote it")
        return cls(**config)


def _shape(shape: Any) -> tuple[int, int]:
    try:
        hw = tuple(shape)
        ok = len(hw) == 2 and all(
            not isinstance(s, bool) and float(s) == int(s) and 8 <= int(s) <= 8192 for s in hw)
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ValueError(f"TrainConfig: shape must be two ints in [8, 8192], got {shape!r}")
    return tuple(int(s) for s in hw)
