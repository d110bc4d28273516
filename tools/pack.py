"""Pack a photo folder tree into one small tar of square WebP crops, to carry to a GPU machine.

A remote training machine takes a working tree of a few tens of MB, not the 190 MB of training
JPEGs. Training decodes every photo to a square centre crop anyway (``tools.data``), so the pack
holds exactly those crops (near-grey and tiny photos already dropped), source folders kept, as
lossy WebP: at quality 60 a 160x160 crop is ~2.7 KB and its ab channels move by ~1.5 levels on
average, well under the 10-level ab bins the network predicts.

Caveat, measured (models/README.md): a whole-network fine-tune on such a pack learns WebP's
compression traces in L as colour cues. It scored +0.44 dB better on WebP crops than on the
same photos as JPEG, and only +0.04 dB over the model it started from on the real validation
photos. Use a pack for decoder training, or at a quality where that gap closes.

    python -m tools.pack ../shared/data/train gpu/train.tar.gz --size 160 --quality 60
    tar -xzf train.tar.gz -C data/     # then: python -m tools.train --train data/train ...
"""

from __future__ import annotations

import argparse
import io
import tarfile
from pathlib import Path

import cv2

from tools.data import load_photos


def pack(folder: str | Path, out: str | Path, size: int = 160, quality: int = 60, drop_grey: bool = True,
         prefix: str | None = None) -> dict:
    """Write the tar; returns counts and sizes. Members are ``prefix/<source>/<name>.webp``."""
    out = Path(out)
    photos = load_photos(folder, size=size, drop_grey=drop_grey)
    prefix = prefix or out.name.split(".")[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    total = 0
    with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:  # gzip squeezes the 512-byte tar headers
        for i, name in enumerate(photos.names):
            ok, enc = cv2.imencode(".webp", cv2.cvtColor(photos.lab[i], cv2.COLOR_Lab2BGR),
                                   [cv2.IMWRITE_WEBP_QUALITY, quality])
            if not ok:
                raise SystemExit(f"{name}: cannot encode as WebP")
            member = tarfile.TarInfo(f"{prefix}/{Path(name).with_suffix('.webp').as_posix()}")
            member.size = enc.nbytes
            tar.addfile(member, io.BytesIO(enc.tobytes()))
            total += enc.nbytes
    tmp.replace(out)
    return {"photos": len(photos), "sources": photos.sources, "image_bytes": total, "tar_bytes": out.stat().st_size}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", help="folder tree of colour photos (first folder = source)")
    ap.add_argument("out", help="the .tar to write")
    ap.add_argument("--size", type=int, default=160, help="square crop size (what tools.train decodes to)")
    ap.add_argument("--quality", type=int, default=60, help="WebP quality")
    ap.add_argument("--keep-grey", action="store_true", help="keep near-grey photos (for validation folders)")
    args = ap.parse_args(argv)
    info = pack(args.folder, args.out, args.size, args.quality, drop_grey=not args.keep_grey)
    print(f"{args.out}: {info['photos']} photos from {len(info['sources'])} sources, "
          f"{info['tar_bytes'] / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
