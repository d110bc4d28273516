"""Make the README's before/after pictures from the bundled samples with the bundled model.

    python scripts/make_readme_images.py [--model default] [--backend auto] [--precision fp32]

Writes docs/images/before_after.jpg (all samples) and docs/images/<sample>.jpg (one pair each).
Rerun it whenever the bundled model changes, and commit the pictures.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--width", type=int, default=1000, help="sheet width in pixels")
    parser.add_argument("--quality", type=int, default=82, help="JPEG quality (keeps the repo small)")
    args = parser.parse_args()

    from edgecolor.colorizer import Colorizer
    from edgecolor.files import read_image, write_image_atomic
    from edgecolor.sheets import before_after_sheet, grey_of, samples_dir

    colorizer = Colorizer(model=args.model, backend=args.backend, precision=args.precision)
    args.out.mkdir(parents=True, exist_ok=True)
    pairs = []
    for path in sorted(samples_dir().glob("*.jpg")):
        image = read_image(path)
        pair = (grey_of(image), colorizer.colorize(image))
        pairs.append(pair)
        write_image_atomic(args.out / path.name, before_after_sheet([pair], width=args.width), quality=args.quality)
        print(f"wrote {args.out / path.name}")
    write_image_atomic(
        args.out / "before_after.jpg", before_after_sheet(pairs, width=args.width), quality=args.quality
    )
    print(f"wrote {args.out / 'before_after.jpg'} ({colorizer.model_path.name}, {colorizer.backend_name})")


if __name__ == "__main__":
    main()
