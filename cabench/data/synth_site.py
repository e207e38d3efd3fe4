"""Scanner effects that make the two synthetic sites differ the way real sites do.

A reconstruction kernel (a smooth kernel blurs, a sharp one enhances edges), correlated noise of
the site's level and texture, a slow intensity bias and a calibration offset, then rounding to
int16. The CT-RATE site has two kernels; the Rad-ChestCT site is smoother, noisier in coarse
blotches, slightly offset and clipped to [-1000, 1000] like its public release.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from cabench.data.phantom_geometry import smooth_noise


@dataclass(frozen=True)
class Kernel:
    """How one reconstruction looks."""

    name: str  # ConvolutionKernel as a scanner would write it
    blur: float  # PSF sigma in voxels (in-plane); negative = edge enhancement of that size
    noise: tuple[float, float]  # noise standard deviation range in HU
    grain: float  # noise correlation sigma in voxels (texture)
    offset: float = 0.0  # calibration offset in HU
    bias: float = 0.0  # amplitude of a slow intensity bias in HU
    clip: tuple[float, float] = (-1024.0, 3071.0)


CTRATE_SMOOTH = Kernel("B30f", blur=0.6, noise=(10.0, 18.0), grain=0.6)
CTRATE_SHARP = Kernel("B70f", blur=-0.8, noise=(28.0, 40.0), grain=0.35)
RADCHEST = Kernel(
    "STANDARD",
    blur=0.9,
    noise=(18.0, 28.0),
    grain=1.3,
    offset=18.0,
    bias=12.0,
    clip=(-1000.0, 1000.0),
)


def apply_site(hu: np.ndarray, kernel: Kernel, rng: np.random.Generator) -> np.ndarray:
    """int16 HU of a clean float32 phantom as scanned with ``kernel`` (same shape)."""
    sigma = (0.0, abs(kernel.blur), abs(kernel.blur))  # in-plane, as a reconstruction kernel
    smooth = ndimage.gaussian_filter(hu, sigma, mode="nearest", truncate=2.5)
    # a smooth kernel is the blur itself; a sharp one adds back the detail the blur removes
    image = smooth if kernel.blur >= 0 else hu + 0.6 * (hu - smooth)
    noise = rng.standard_normal(hu.shape, dtype=np.float32)
    if kernel.grain > 0:
        noise = ndimage.gaussian_filter(
            noise, (0.0, kernel.grain, kernel.grain), mode="wrap", truncate=2.5
        )
        noise /= max(float(noise.std()), 1e-6)
    image += noise * np.float32(rng.uniform(*kernel.noise))
    image += np.float32(kernel.offset)
    if kernel.bias:
        image += kernel.bias * smooth_noise(rng, hu.shape, cells=max(hu.shape) / 3)
    np.clip(image, *kernel.clip, out=image)
    return np.rint(image).astype(np.int16)
