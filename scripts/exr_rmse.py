"""Root-mean-square error of EXR images against a reference: the RGB of the
root layer, over every pixel and channel.

  .mitsuba/bin/python scripts/exr_rmse.py REFERENCE.exr IMAGE.exr [IMAGE.exr ...]

Uses Mitsuba's EXR reader (scripts/compare-mitsuba.sh installs it in .mitsuba/).
"""

import sys

import mitsuba as mi
import numpy as np


def rgb(path):
    pixels = np.array(mi.Bitmap(path), copy=True)
    return pixels[:, :, :3].astype(np.float64)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    mi.set_variant("scalar_rgb")
    reference = rgb(sys.argv[1])
    for path in sys.argv[2:]:
        image = rgb(path)
        rmse = np.sqrt(np.mean((image - reference) ** 2))
        print(f"{path}: RMSE {rmse:.6f} (relative to the reference mean {rmse / reference.mean():.4f})")


if __name__ == "__main__":
    main()
