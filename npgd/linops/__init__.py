"""Linear operators and their algebra, on NumPy, CuPy and Torch arrays alike.

Every operator acts on the trailing axes ``ishape`` of its input, with any number of leading
batch axes, on the input's backend and device and in its precision.

=====================  ===================================================================
``LinearOperator``     base class: ``A(x)``, ``A.H``, ``A.N``, ``A @ B``, ``A + B``, ``c * A``
``Identity``           :math:`x \\mapsto x`
``Diagonal``           :math:`x \\mapsto w \\odot x`
``FFT2``               centred orthonormal 2-D DFT
``MaskedFFT``          :math:`x \\mapsto M \\odot F x` (undersampled MRI)
``Downsample``         block averages (super-resolution)
``Crop``               centre crop / zero padding between grids
``Wavelet``            orthonormal periodized 2-D DWT in pywt's layout
``FiniteDifference``   forward differences (total variation)
``dottest``            the adjoint test for any operator
=====================  ===================================================================
"""

from npgd.linops.base import Compose, Identity, LinearOperator, Scaled, Sum
from npgd.linops.basic import Diagonal
from npgd.linops.crop import Crop
from npgd.linops.dottest import dottest
from npgd.linops.finite_difference import FiniteDifference
from npgd.linops.fourier import FFT2, MaskedFFT
from npgd.linops.resample import Downsample
from npgd.linops.sense import Sense
from npgd.linops.wavelet import Wavelet

__all__ = [
    "Compose",
    "Crop",
    "Diagonal",
    "Downsample",
    "FFT2",
    "FiniteDifference",
    "Identity",
    "LinearOperator",
    "MaskedFFT",
    "Scaled",
    "Sense",
    "Sum",
    "Wavelet",
    "dottest",
]
