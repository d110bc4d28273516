"""Train the default edgecolor network on a folder tree of colour photos.

Two phases, shaped for a 2-core CPU (a GPU is used when present):
1. decoder: the ImageNet encoder is frozen; its features for every photo are computed once and
   reused across epochs, so the cores go to the decoder (crops and flips are array slices);
2. finetune (optional): the whole network, encoder included, on fresh random crops, briefly.

Loss: cross-entropy over quantised ab bins with soft targets and class rebalancing (Zhang et
al. 2016) plus a small regression term on the annealed-mean output. Plain L1/L2 alone gives
brownish averages.

    python -m tools.train --train ../shared/data/train --val ../shared/data/val --out runs/lite0
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from edgecolor import metrics
from edgecolor.contract import L_SCALE, L_SHIFT
from tools.data import PhotoSet, balanced_weights, load_photos
from tools.net import ENCODER_TAPS, ColorNet, ab_bin_centres, checkpoint_encoder

SIGMA = 5.0  # soft-encoding width in ab units
REBALANCE_LAMBDA = 0.5
REG_WEIGHT = 0.1


def cosine_lr(peak: float, step: int, total: int, warmup: float = 0.03) -> float:
    """Linear warm-up then cosine decay to zero; a pure function of the step, so resume is exact."""
    w = int(warmup * total)
    if step < w:
        return peak * (step + 1) / w
    return peak * 0.5 * (1 + np.cos(np.pi * (step - w) / max(1, total - w)))


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def l_input(lab: torch.Tensor) -> torch.Tensor:
    """Network input from float Lab (n,3,H,W): L in 0..100 -> [-1, 1] (contract l_scale/l_shift)."""
    return lab[:, :1] * L_SCALE + L_SHIFT


def ab_targets(lab: torch.Tensor, stride: int = 4) -> torch.Tensor:
    """ab averaged over stride×stride cells: the resolution the network predicts at."""
    return F.avg_pool2d(lab[:, 1:], stride)


def bins_and_weights(photos: PhotoSet, grid: int = 10, lam: float = REBALANCE_LAMBDA,
                     keep_centres: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bin centres seen in the data and their rebalancing weights. ``keep_centres``: use exactly these
    bins (a checkpoint's, so fine-tuning it on other or re-encoded photos keeps its output layer)."""
    centres = ab_bin_centres(grid)
    axis = np.unique(centres[:, 0])
    counts = np.zeros(len(centres))
    for i in range(0, len(photos), 512):
        ab = ab_targets(torch.from_numpy(photos.lab_float(slice(i, i + 512)))).numpy()
        # Nearest centre on a regular grid is a rounding, not a search.
        ia = np.clip(np.rint((ab[:, 0] - axis[0]) / grid), 0, len(axis) - 1).astype(np.int64)
        ib = np.clip(np.rint((ab[:, 1] - axis[0]) / grid), 0, len(axis) - 1).astype(np.int64)
        counts += np.bincount((ia * len(axis) + ib).ravel(), minlength=len(centres))
    if keep_centres is None:
        keep = counts > 0
    else:
        keep = (np.abs(centres[:, None] - np.asarray(keep_centres)[None]).sum(-1) < 1e-3).any(1)
        if keep.sum() != len(keep_centres):
            raise SystemExit("the checkpoint's ab bins are not on this grid")
        counts = counts + 1e-3  # a bin this data never hits keeps a finite weight
    centres, counts = centres[keep], counts[keep]
    p = counts / counts.sum()
    # Smooth the prior over the ab plane, then mix with uniform (Zhang et al.'s rebalancing).
    d2 = ((centres[:, None] - centres[None]) ** 2).sum(-1)
    k = np.exp(-d2 / (2 * SIGMA**2))
    p_s = k @ p / k.sum(1)
    p_s /= p_s.sum()
    w = 1.0 / ((1 - lam) * p_s + lam / len(centres))
    w /= (p * w).sum()
    return centres.astype(np.float32), w.astype(np.float32)


class ColorLoss(torch.nn.Module):
    def __init__(self, centres: np.ndarray, weights: np.ndarray, reg_weight: float = REG_WEIGHT):
        super().__init__()
        self.reg_weight = reg_weight
        self.register_buffer("c", torch.from_numpy(centres))
        self.register_buffer("w", torch.from_numpy(weights))

    def forward(self, logits: torch.Tensor, ab_pred: torch.Tensor, ab: torch.Tensor) -> tuple[torch.Tensor, dict]:
        n, _, h, w = ab.shape
        flat = ab.permute(0, 2, 3, 1).reshape(-1, 2)
        d2 = (flat * flat).sum(1, keepdim=True) - 2 * flat @ self.c.t() + (self.c * self.c).sum(1)[None]
        soft = torch.softmax(-d2 / (2 * SIGMA**2), dim=1)
        pix_w = self.w[d2.argmin(1)]
        logp = torch.log_softmax(logits.permute(0, 2, 3, 1).reshape(-1, self.c.shape[0]), dim=1)
        ce = -(soft * logp).sum(1)
        cls = (pix_w * ce).mean()
        reg = F.smooth_l1_loss(ab_pred / 10.0, ab / 10.0)
        return cls + self.reg_weight * reg, {"ce": cls.item(), "reg": reg.item()}


def optimise(opt, lr: float, loss_fn: ColorLoss, net: ColorNet, logits: torch.Tensor, lab: torch.Tensor) -> dict:
    """One optimiser step at learning rate lr on the loss of logits against lab's ab; returns the loss parts."""
    for g in opt.param_groups:
        g["lr"] = lr
    loss, parts = loss_fn(logits, net.decode(logits), ab_targets(lab))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return parts


@torch.no_grad()
def encode_all(net: ColorNet, photos: PhotoSet, device: torch.device, batch: int = 128) -> dict[str, np.ndarray]:
    """Frozen-encoder features for every photo, stored as float16."""
    net.encoder.eval()
    out: dict[str, list[np.ndarray]] = {}
    for i in range(0, len(photos), batch):
        x = l_input(torch.from_numpy(photos.lab_float(slice(i, i + batch)))).to(device)
        for k, v in net.encoder(x).items():
            out.setdefault(k, []).append(v.half().cpu().numpy())
    return {k: np.concatenate(v) for k, v in out.items()}


def cached_features(path: Path, net: ColorNet, photos: PhotoSet, device: torch.device) -> dict[str, np.ndarray]:
    """Frozen-encoder features, kept on disk beside the run so a resume skips the encoding pass."""
    if path.exists():
        z = np.load(path)
        if len(z["s4"]) == len(photos):
            return {k: z[k] for k in z.files}
    feats = encode_all(net, photos, device)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **feats)
    tmp.replace(path)
    return feats


def feature_crop(feats: dict[str, np.ndarray], idx: np.ndarray, oy: int, ox: int, cells: int, flip: bool):
    """Crop aligned to the stride-32 grid (oy, ox, cells in stride-32 units) and optionally flip."""
    out = {}
    for k, v in feats.items():
        s = 32 // int(k[1:])  # cells of this tap per stride-32 cell
        t = v[idx, :, oy * s : (oy + cells) * s, ox * s : (ox + cells) * s]
        if flip:
            t = t[..., ::-1]
        out[k] = torch.from_numpy(np.ascontiguousarray(t)).float()
    return out


def lab_crop(photos: PhotoSet, idx: np.ndarray, oy: int, ox: int, size: int, flip: bool) -> torch.Tensor:
    lab = photos.lab_float(idx)[:, :, oy : oy + size, ox : ox + size]
    if flip:
        lab = lab[..., ::-1]
    return torch.from_numpy(np.ascontiguousarray(lab))


def lab_to_bgr8(L: np.ndarray, ab: np.ndarray) -> np.ndarray:
    lab = np.dstack([L, ab[..., 0], ab[..., 1]]).astype(np.float32)
    return np.clip(cv2.cvtColor(lab, cv2.COLOR_Lab2BGR) * 255 + 0.5, 0, 255).astype(np.uint8)


@torch.no_grad()
def validate(net: ColorNet, val: PhotoSet, feats: dict[str, np.ndarray] | None, device: torch.device) -> dict:
    """PSNR, colourfulness ratio and AuC on the validation crops, and the greyscale baseline."""
    net.eval()
    rows = []
    for i in range(0, len(val), 50):
        idx = np.arange(i, min(i + 50, len(val)))
        lab = torch.from_numpy(val.lab_float(idx))
        if feats is not None:
            f = {k: torch.from_numpy(v[idx]).float().to(device) for k, v in feats.items()}
            ab = net.decode(net.decoder(f))
        else:
            ab = net(l_input(lab).to(device))
        ab = F.interpolate(ab, size=lab.shape[-2:], mode="bilinear", align_corners=False).cpu().numpy()
        for j in range(len(idx)):
            L = lab[j, 0].numpy()
            ref = lab_to_bgr8(L, lab[j, 1:].numpy().transpose(1, 2, 0))
            out = lab_to_bgr8(L, ab[j].transpose(1, 2, 0))
            grey = lab_to_bgr8(L, np.zeros(L.shape + (2,), np.float32))
            rows.append(
                (
                    metrics.psnr(out, ref),
                    metrics.psnr(grey, ref),
                    metrics.colorfulness(out),
                    metrics.colorfulness(ref),
                    metrics.auc(out, ref),
                )
            )
    r = np.array(rows)
    return {
        "psnr": float(r[:, 0].mean()),
        "psnr_grey": float(r[:, 1].mean()),
        "psnr_gain": float(r[:, 0].mean() - r[:, 1].mean()),
        "colorfulness_ratio": float(r[:, 2].mean() / max(r[:, 3].mean(), 1e-6)),
        "auc": float(r[:, 4].mean()),
    }


def save_ckpt(path: Path, net: ColorNet, opt, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"model": net.state_dict(), "opt": opt.state_dict(), "state": state,
                "centres": net.decode.centres.cpu().numpy(), "temperature": net.decode.temperature,
                "variant": net.encoder.variant}, tmp)
    tmp.replace(path)


def start_run(args: argparse.Namespace):
    """Seed, threads, the run folder, and ``emit(record)``: one JSON line to OUT/log.jsonl and stdout."""
    seed_all(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = (out / "log.jsonl").open("a")
    t0 = time.time()

    def emit(rec: dict) -> None:
        rec = {"t": round(time.time() - t0, 1), **rec}
        log.write(json.dumps(rec) + "\n")
        log.flush()
        print(json.dumps(rec), flush=True)

    return out, emit, t0


def load_sets(args: argparse.Namespace) -> tuple[PhotoSet, PhotoSet]:
    """Training and validation photos (``--limit``: the first N, for smoke tests)."""
    photos = load_photos(args.train, size=args.size, cache_dir=args.cache)
    val = load_photos(args.val, size=args.size, drop_grey=False, cache_dir=args.cache)
    if args.limit:
        n = args.limit
        photos = PhotoSet(photos.lab[:n], photos.source[:n], photos.sources, photos.names[:n])
        val = PhotoSet(val.lab[: max(4, args.limit // 4)], val.source[:0], val.sources, val.names)
    return photos, val


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of ``python -m tools.train``."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", required=True, help="folder tree of colour photos (first folder = source)")
    ap.add_argument("--val", required=True, help="folder of validation photos")
    ap.add_argument("--out", required=True, help="run folder: log.jsonl, checkpoints, final.pt")
    ap.add_argument("--size", type=int, default=160, help="decoded square size (multiple of 32)")
    ap.add_argument("--crop", type=int, default=128, help="training crop (multiple of 32)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=20, help="decoder epochs (frozen encoder)")
    ap.add_argument("--finetune-epochs", type=float, default=0.0, help="whole-network epochs after that")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--finetune-lr", type=float, default=2e-4)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N photos (smoke tests)")
    ap.add_argument("--source-power", type=float, default=0.5, help="source balance: 0 equal, 1 by size")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = all cores)")
    ap.add_argument("--no-pretrained", action="store_true", help="random encoder (tests only)")
    ap.add_argument("--encoder", default="lite0", choices=sorted(ENCODER_TAPS),
                    help="ImageNet encoder of a new network (an --init checkpoint brings its own)")
    ap.add_argument("--cache", default=".cache", help="where decoded photos are cached")
    ap.add_argument("--features", default=None, help="folder of cached encoder features (default: --out)")
    ap.add_argument("--init", default=None, help="start from this checkpoint's weights (fresh schedule)")
    ap.add_argument("--rebalance", type=float, default=REBALANCE_LAMBDA,
                    help="class rebalancing: uniform-mix lambda (1 = no rebalancing)")
    ap.add_argument("--reg-weight", type=float, default=REG_WEIGHT, help="weight of the ab regression term")
    ap.add_argument("--temperature", type=float, default=None, help="annealed-mean temperature in training")
    return ap.parse_args(argv)


@dataclass
class Run:
    """What both phases share: the options, the photos, the network and its loss, sampling, the log."""

    args: argparse.Namespace
    out: Path
    emit: Callable[[dict], None]
    photos: PhotoSet
    val: PhotoSet
    net: ColorNet
    loss_fn: ColorLoss
    sample_w: np.ndarray
    device: torch.device
    rng: np.random.Generator

    @property
    def ckpt(self) -> Path:
        return self.out / "last.pt"

    @property
    def steps_per_epoch(self) -> int:
        return max(1, len(self.photos) // self.args.batch)

    def batch(self) -> np.ndarray:
        """Indices of one training batch, sources balanced by ``sample_w``."""
        return np.sort(self.rng.choice(len(self.photos), self.args.batch, p=self.sample_w))


def build_net(args: argparse.Namespace, photos: PhotoSet, val: PhotoSet, device: torch.device,
              emit: Callable[[dict], None]) -> tuple[ColorNet, ColorLoss, np.ndarray]:
    """The network (``--init``'s weights and bins when given), its loss, and the ab bin centres."""
    init = torch.load(args.init, map_location="cpu", weights_only=False) if args.init else None
    centres, weights = bins_and_weights(photos, lam=args.rebalance,
                                        keep_centres=None if init is None else np.asarray(init["centres"]))
    emit({"event": "data", "train": len(photos), "val": len(val), "bins": len(centres),
          "sources": photos.sources})
    variant = checkpoint_encoder(init) if init is not None else args.encoder
    net = ColorNet(centres, pretrained=not args.no_pretrained, variant=variant).to(device)
    if init is not None:
        net.load_state_dict(init["model"])
        del init
    if args.temperature:
        net.decode.temperature = args.temperature
    return net, ColorLoss(centres, weights, args.reg_weight).to(device), centres


def resume(args: argparse.Namespace, ckpt: Path, net: ColorNet, opt, device: torch.device,
           emit: Callable[[dict], None]) -> tuple[dict, np.random.Generator]:
    """The phase and epoch to go on from (``ckpt`` when there is one: weights and optimiser loaded) and
    the crop sampler, seeded so a resumed run draws what an uninterrupted one would have."""
    if not ckpt.exists():
        return {"phase": "decoder", "epoch": 0}, np.random.default_rng(args.seed)
    z = torch.load(ckpt, map_location=device, weights_only=False)
    net.load_state_dict(z["model"])
    state = z["state"]
    if state["phase"] == "decoder":
        opt.load_state_dict(z["opt"])
    emit({"event": "resume", **state})
    return state, np.random.default_rng(args.seed + 1000 * state["epoch"] + (state["phase"] == "finetune"))


def train_decoder(run: Run, opt, state: dict) -> None:
    """Phase 1: the decoder on cached encoder features, one epoch (validated, checkpointed) at a time."""
    args, net, device = run.args, run.net, run.device
    fdir = Path(args.features) if args.features else run.out
    feats = cached_features(fdir / "features-train.npz", net, run.photos, device)
    vfeats = cached_features(fdir / "features-val.npz", net, run.val, device)
    run.emit({"event": "encoded", "gb": round(sum(v.nbytes for v in feats.values()) / 1e9, 2)})
    steps = run.steps_per_epoch
    while state["epoch"] < args.epochs:
        te = time.time()
        agg, lr = decoder_epoch(run, opt, feats, state["epoch"])
        state["epoch"] += 1
        vm = validate(net, run.val, vfeats, device)
        rate = steps * args.batch / (time.time() - te)
        run.emit({"event": "epoch", "phase": "decoder", "epoch": state["epoch"], **agg, "crops_per_s": round(rate, 1),
                  "lr": lr, **{f"val_{k}": v for k, v in vm.items()}})
        save_ckpt(run.ckpt, net, opt, state)


def decoder_epoch(run: Run, opt, feats: dict[str, np.ndarray], epoch: int) -> tuple[dict, float]:
    """One decoder epoch of random aligned crops; the mean loss parts and the last learning rate."""
    args, net, device = run.args, run.net, run.device
    steps = run.steps_per_epoch
    total = args.epochs * steps
    grid = (args.size - args.crop) // 32
    cells = args.crop // 32
    net.decoder.train()
    agg = {"ce": 0.0, "reg": 0.0}
    for s in range(steps):
        lr = cosine_lr(args.lr, epoch * steps + s, total)
        idx = run.batch()
        oy, ox = run.rng.integers(0, grid + 1, 2)
        flip = bool(run.rng.integers(0, 2))
        f = {k: v.to(device) for k, v in feature_crop(feats, idx, oy, ox, cells, flip).items()}
        lab = lab_crop(run.photos, idx, oy * 32, ox * 32, args.crop, flip).to(device)
        parts = optimise(opt, lr, run.loss_fn, net, net.decoder(f), lab)
        for k in agg:
            agg[k] += parts[k] / steps
    return agg, lr


def finetune(run: Run, state: dict) -> dict:
    """Phase 2: the whole network on fresh crops, in chunks of 1/10 epoch so a resume loses little."""
    args, net = run.args, run.net
    if state["phase"] == "decoder":
        state = {"phase": "finetune", "epoch": 0}
    opt = torch.optim.AdamW(net.parameters(), lr=args.finetune_lr, weight_decay=1e-4)
    ft_steps = int(args.finetune_epochs * run.steps_per_epoch)
    done = state["epoch"]
    chunk = max(1, run.steps_per_epoch // 10)
    while done < ft_steps:
        te = time.time()
        n = min(chunk, ft_steps - done)
        agg = finetune_steps(run, opt, done, n, ft_steps)
        done += n
        state["epoch"] = done
        rec = {"event": "finetune", "step": done, "of": ft_steps, **agg,
               "crops_per_s": round(n * args.batch / (time.time() - te), 1)}
        if done >= ft_steps or (done // chunk) % 5 == 0:
            rec.update({f"val_{k}": v for k, v in validate(net, run.val, None, run.device).items()})
        run.emit(rec)
        save_ckpt(run.ckpt, net, opt, state)
    return state


def finetune_steps(run: Run, opt, done: int, n: int, ft_steps: int) -> dict:
    """``n`` whole-network steps from step ``done`` (encoder batch norms frozen); the mean loss parts."""
    args, net = run.args, run.net
    net.train()
    net.encoder.apply(lambda m: m.eval() if isinstance(m, torch.nn.BatchNorm2d) else None)
    agg = {"ce": 0.0, "reg": 0.0}
    for s in range(n):
        lr = cosine_lr(args.finetune_lr, done + s, ft_steps, warmup=0)
        idx = run.batch()
        oy, ox = run.rng.integers(0, args.size - args.crop + 1, 2)
        lab = lab_crop(run.photos, idx, oy, ox, args.crop, bool(run.rng.integers(0, 2))).to(run.device)
        parts = optimise(opt, lr, run.loss_fn, net, net.logits(l_input(lab)), lab)
        for k in agg:
            agg[k] += parts[k] / n
    return agg


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    out, emit, t0 = start_run(args)
    photos, val = load_sets(args)
    net, loss_fn, centres = build_net(args, photos, val, device, emit)
    sample_w = balanced_weights(photos.source, args.source_power)
    opt = torch.optim.AdamW(net.decoder.parameters(), lr=args.lr, weight_decay=1e-4)
    state, rng = resume(args, out / "last.pt", net, opt, device, emit)
    run = Run(args, out, emit, photos, val, net, loss_fn, sample_w, device, rng)
    if state["phase"] == "decoder" and state["epoch"] < args.epochs:
        train_decoder(run, opt, state)
    if args.finetune_epochs > 0:
        state = finetune(run, state)
    final = {
        "model": net.state_dict(),
        "centres": centres,
        "temperature": net.decode.temperature,
        "variant": net.encoder.variant,
        "args": vars(args),
        "state": state,
        "wall_s": round(time.time() - t0, 1),
    }
    torch.save(final, out / "final.pt")
    emit({"event": "done", "final": str(out / "final.pt")})


if __name__ == "__main__":
    main()
