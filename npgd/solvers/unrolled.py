"""Neural proximal gradient descent: :func:`npgd.solvers.pgd` unrolled, with a learned prox."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from npgd._util import check_int, check_positive_float
from npgd.linops import LinearOperator
from npgd.solvers.pgd import pgd

__all__ = ["NeuralPGD"]


class NeuralPGD(nn.Module):
    """Neural proximal gradient descent: ``iters`` copies of a learned proximal and a learned
    step, unrolled (Mardani et al., "Neural Proximal Gradient Descent for Compressive Imaging",
    NeurIPS 2018).

    .. math:: x_0 = 0, \\qquad x_{t+1} = P_t\\left(x_t + \\alpha A^H(y - A x_t)\\right),
              \\qquad \\hat x = x_T,

    computed by the very same loop as the classic solvers: ``net(A, y)`` *is*
    ``solvers.pgd(A, net.prox, y, iters=net.iters, step=net.step)``. With ``shared=True`` all
    :math:`P_t` are one network (the paper's recurrent ResNet); with ``shared=False`` each copy
    has its own weights (Mardani et al., "Recurrent Generative Adversarial Networks for
    Proximal Learning and Automated Compressive Image Recovery", Table 1) and ``net.prox`` is a
    ``ModuleList`` that :func:`pgd` takes as one proximal per iteration. The papers' deep-ResNet
    baseline is ``NeuralPGD(ResNetProx(blocks=10), iters=1)``.

    Parameters
    ----------
    prox : torch.nn.Module
        The proximal, called ``prox(x, step)`` (e.g. :class:`npgd.priors.ResNetProx`). With
        ``shared=False`` it is copied ``iters`` times.
    iters : int
        Unrolled iterations (copies) :math:`T`.
    shared : bool
        One set of weights for all copies, or one per copy.
    step : float
        Initial :math:`\\alpha` (learned). 1 suits operators with :math:`\\|A^H A\\| = 1`, such
        as :class:`npgd.linops.MaskedFFT`; use :math:`1/\\|A^H A\\|` otherwise
        (:func:`npgd.solvers.squared_norm`).
    data_consistency : {"gradient", "hard"}
        ``"gradient"`` (default): the learned gradient step above. ``"hard"``: the authors'
        exact data consistency: :math:`\\alpha = 1` fixed and a last projection
        :math:`\\hat x = x_T + A^H(y - A x_T)`; both are the projection onto
        :math:`\\{x: Ax = y\\}` when :math:`AA^H` is the identity on the range of :math:`A`
        (masked orthonormal Fourier sampling), which is checked on every call.

    Examples
    --------
    >>> import torch
    >>> from npgd import linops, priors, solvers
    >>> net = solvers.NeuralPGD(priors.ResNetProx(features=8), iters=3)
    >>> A = linops.MaskedFFT(torch.rand(16, 12) < 0.4)
    >>> y = A(torch.randn(2, 16, 12, dtype=torch.complex64))
    >>> x = net(A, y)
    >>> x.shape
    torch.Size([2, 16, 12])
    >>> same = solvers.pgd(A, net.prox, y, iters=net.iters, step=net.step)
    >>> bool(torch.allclose(x, same))
    True
    """

    def __init__(
        self,
        prox: nn.Module,
        iters: int = 10,
        shared: bool = True,
        step: float = 1.0,
        data_consistency: str = "gradient",
    ):
        super().__init__()
        if not isinstance(prox, nn.Module):
            raise TypeError(f"NeuralPGD: prox must be a torch.nn.Module, got {type(prox).__name__}")
        iters = check_int("NeuralPGD", "iters", iters)
        step = check_positive_float("NeuralPGD", "step", step)
        if data_consistency not in ("gradient", "hard"):
            raise ValueError(
                f"NeuralPGD: data_consistency must be 'gradient' or 'hard', got "
                f"{data_consistency!r}"
            )
        self.iters, self.shared, self.data_consistency = iters, shared, data_consistency
        self.prox = prox if shared else nn.ModuleList(copy.deepcopy(prox) for _ in range(iters))
        if data_consistency == "hard":
            self.register_buffer("step", torch.tensor(1.0))
        else:
            self.step = nn.Parameter(torch.tensor(float(step)))

    #: Smallest learned step :meth:`clamp_step_` keeps (pgd refuses a step <= 0); a power of
    #: two, exact in every floating dtype.
    MIN_STEP = 2.0**-13

    @torch.no_grad()
    def clamp_step_(self) -> NeuralPGD:
        """Project the learned step back onto :math:`\\alpha \\ge` ``MIN_STEP`` (in place).

        Call it after every optimizer update (projected gradient descent): a large learning
        rate can push :math:`\\alpha` to zero or below, where :func:`npgd.solvers.pgd` refuses
        it. A step that stayed in range is left bit for bit as it was.

        >>> net = NeuralPGD(nn.Identity(), iters=1)
        >>> with torch.no_grad():
        ...     _ = net.step.fill_(-0.2)
        >>> net.clamp_step_().step.item() == NeuralPGD.MIN_STEP
        True
        """
        if isinstance(self.step, nn.Parameter):
            self.step.clamp_(min=self.MIN_STEP)
        return self

    def forward(self, A: LinearOperator, y: torch.Tensor, return_all: bool = False) -> Any:
        """Reconstruct a batch: :math:`\\hat x = x_T` of shape ``(*batch, *A.ishape)``.

        With ``return_all`` the list :math:`[x_1, \\dots, x_T]` (for the (P2) loss, which
        penalises every iterate's data misfit).
        """
        if self.data_consistency == "hard":
            self._check_tight(A, y)
        iterates: list[torch.Tensor] = []

        def keep(t: int, x: torch.Tensor) -> bool:
            iterates.append(x)
            return False

        x = pgd(A, self.prox, y, step=self.step, iters=self.iters,
                callback=keep if return_all else None)
        if self.data_consistency == "hard":
            x = x + A.H(y - A(x))
            if return_all:
                iterates[-1] = x
        return iterates if return_all else x

    @staticmethod
    def _check_tight(A: LinearOperator, y: torch.Tensor) -> None:
        with torch.no_grad():
            err = torch.linalg.vector_norm(A(A.H(y)) - y)
            if err > 1e-4 * torch.linalg.vector_norm(y):
                raise ValueError(
                    "NeuralPGD: data_consistency='hard' needs A A^H = I on the range of A (a "
                    f"masked orthonormal Fourier operator); here |A A^H y - y| / |y| = "
                    f"{float(err / torch.linalg.vector_norm(y).clamp_min(1e-30)):.3g}. "
                    "Use data_consistency='gradient'"
                )
