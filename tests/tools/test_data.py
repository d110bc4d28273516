"""tools.data's sampling: source weights, held-out photos chosen by name, sources decoded alone."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tools.data import PhotoSet, holdout_mask, load_photos, parse_source_weights, sampling_weights


def _set(counts: dict[str, int]) -> PhotoSet:
    sources = sorted(counts)
    src = np.concatenate([np.full(n, sources.index(s), np.int16) for s, n in counts.items()])
    names = [f"{s}/{i:04d}.jpg" for s, n in counts.items() for i in range(n)]
    return PhotoSet(np.zeros((len(src), 4, 4, 3), np.uint8), src, sources, names)


def test_source_weights_parse_and_refuse_nonsense():
    assert parse_source_weights("cars=3, streets=0.5,") == {"cars": 3.0, "streets": 0.5}
    assert parse_source_weights("") == {}
    for bad in ("cars", "cars=-1", "cars=x"):
        with pytest.raises(ValueError):
            parse_source_weights(bad)


def test_holdout_by_fraction_is_fixed_by_name_and_whole_sources_go_entirely():
    ps = _set({"cars": 400, "pets": 100, "sky": 50})
    mask = holdout_mask(ps, "cars:0.25,sky,nope")
    cars = ps.source == ps.sources.index("cars")
    assert 0.18 < mask[cars].mean() < 0.32
    assert mask[ps.source == ps.sources.index("sky")].all() and not mask[ps.source == ps.sources.index("pets")].any()
    # the same photos from a set in another order (e.g. the large copies): held out by name, not by index
    order = np.random.default_rng(0).permutation(len(ps))
    shuffled = PhotoSet(ps.lab[order], ps.source[order], ps.sources, [ps.names[i] for i in order])
    held = {shuffled.names[i] for i in np.flatnonzero(holdout_mask(shuffled, "cars:0.25,sky"))}
    assert held == {ps.names[i] for i in np.flatnonzero(mask)}


def test_sampling_weights_boost_a_source_and_never_draw_held_out_photos():
    ps = _set({"cars": 100, "pets": 400})
    held = holdout_mask(ps, "cars:0.5")
    plain = sampling_weights(ps, 0.5, {}, np.zeros(len(ps), bool))
    boosted = sampling_weights(ps, 0.5, {"cars": 4.0}, held)
    cars = ps.source == 0
    assert plain[cars].sum() == pytest.approx(np.sqrt(100) / (np.sqrt(100) + np.sqrt(400)))
    assert boosted[held].sum() == 0 and boosted.sum() == pytest.approx(1.0)
    odds = boosted[cars].sum() / boosted[~cars].sum()
    assert odds == pytest.approx(4.0 * 10 / 20 * (~held[cars]).mean())  # shares 4·√100 : √400, less what is held


def test_load_photos_only_some_sources_at_another_size(tmp_path):
    rng = np.random.default_rng(1)
    for src in ("big", "small"):
        (tmp_path / src).mkdir()
        for i in range(2):
            img = cv2.resize(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), (96, 80))
            cv2.imwrite(str(tmp_path / src / f"{i}.png"), img)
    ps = load_photos(tmp_path, size=64, cache_dir=tmp_path / "cache", only=["big"], drop_grey=False)
    assert ps.lab.shape == (2, 64, 64, 3) and set(ps.names) == {"big/0.png", "big/1.png"}
    assert len(load_photos(tmp_path, size=64, cache_dir=tmp_path / "cache", drop_grey=False)) == 4
