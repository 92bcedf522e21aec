"""Build npgd's embedded MRI sample from Debian's mricron-data ``ch2better.nii.gz``.

    apt-get download mricron-data && dpkg -x mricron-data_*.deb /tmp/mricron
    python scripts/make_sample_data.py /tmp/mricron/usr/share/mricron/templates/ch2better.nii.gz

Colin27 "ch2better" is a 0.5 mm T1 volume in MNI space (BSD-3, see the data README). This
resamples it to 1 mm by exact 2x2x2 block averages, takes the axial slices that contain brain
(> 8 % of the in-plane field above intensity 20 / 130), pads each (y, x) = (185, 150) slice to
192x160 with anterior at the top, quantizes to uint8 and stores the slices with their MNI z.
The smooth synthetic phase is added at load time (``npgd.problems.data.brain_slices``).
"""

import sys
from pathlib import Path

import nibabel as nib
import numpy as np

OUT = Path(__file__).resolve().parents[1] / "npgd/problems/sample_data/ch2better_axial_1mm.npz"


def main(path: str) -> None:
    img = nib.load(path)
    if img.shape != (301, 370, 316) or not np.allclose(img.header.get_zooms(), 0.5):
        raise SystemExit(f"{path}: expected the 301x370x316 0.5 mm ch2better volume")
    a = img.affine
    vol = np.asarray(img.dataobj, dtype=np.float32)[:300, :370, :316]
    vol = vol.reshape(150, 2, 185, 2, 158, 2).mean(axis=(1, 3, 5))  # 1 mm, RAS axes (x, y, z)
    z = a[2, 3] + 0.5 * a[2, 2] + np.arange(158) * 2 * a[2, 2]  # MNI z of each 1 mm slice
    keep = (vol > 20).mean(axis=(0, 1)) > 0.08
    slices = np.transpose(vol, (2, 1, 0))[keep, ::-1, :]  # (z, y, x), anterior at the top
    out = np.zeros((slices.shape[0], 192, 160), np.float32)
    out[:, 3:188, 5:155] = slices
    q = np.round(out * (255 / out.max())).astype(np.uint8)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, magnitude=q, z_mm=z[keep].astype(np.float32))
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB): {q.shape[0]} slices, "
          f"z from {z[keep].min():+.2f} to {z[keep].max():+.2f} mm, "
          f"{int((z[keep] >= 10).sum())} test slices (z >= +10 mm)")


if __name__ == "__main__":
    main(sys.argv[1])
