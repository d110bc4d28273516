"""ColorizerOptions (issue 11 item 1) and StreamOptions (issue 24): frozen settings objects, every value checked once
when made."""

from __future__ import annotations

import dataclasses
import inspect
import pickle

import numpy as np
import pytest
from conftest import photo

from edgecolor import options as options_module
from edgecolor.colorizer import Colorizer
from edgecolor.errors import EdgecolorError, UsageError
from edgecolor.limits import DEFAULT_MAX_PIXELS, MAX_SIZE
from edgecolor.options import DEFAULT_STRENGTH, MAX_STRENGTH, MAX_WORKERS, MIN_SIZE, ColorizerOptions, StreamOptions


def test_defaults_are_the_colorizers():
    o = ColorizerOptions()
    assert (o.model, o.backend, o.precision, o.device, o.threads, o.size, o.saturation, o.hint, o.guided,
            o.max_pixels, o.quality) == ("default", "auto", "fp32", "CPU", None, None, 1.0, "LATENCY", True,
                                         DEFAULT_MAX_PIXELS, "fast")
    # the keywords of Colorizer are the fields, in the same order (positional calls keep working)
    params = list(inspect.signature(Colorizer.__init__).parameters)[1:]
    assert params == [f.name for f in dataclasses.fields(ColorizerOptions)]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"size": 0}, f"size must be an integer {MIN_SIZE}..{MAX_SIZE} (pixels), got 0"),
    ({"size": MIN_SIZE - 1}, f"size must be an integer {MIN_SIZE}..{MAX_SIZE} (pixels), got {MIN_SIZE - 1}"),
    ({"size": 2.5}, "size must be an integer"),
    ({"size": True}, "size must be an integer"),
    ({"size": MAX_SIZE + 1}, "size must be an integer"),
    ({"saturation": float("nan")}, "saturation must be a number >= 0, got nan"),
    ({"saturation": -0.5}, "saturation must be a number >= 0"),
    ({"saturation": "1"}, "saturation must be a number >= 0"),
    ({"saturation": float("inf")}, "saturation must be a number >= 0"),
    ({"max_pixels": 0}, "max_pixels must be a positive integer or None, got 0"),
    ({"max_pixels": 1.5}, "max_pixels must be a positive integer"),
    ({"threads": 0}, "threads must be a positive integer, got 0"),
    ({"threads": True}, "threads must be a positive integer"),
    ({"precision": "fp64"}, "unknown precision 'fp64' (choose from fp32, fp16, int8)"),
    ({"hint": "FAST"}, "unknown performance hint 'FAST' (choose from LATENCY, THROUGHPUT)"),
    ({"guided": 1}, "guided must be True or False, got 1"),
    ({"quality": "best"}, "unknown quality 'best' (choose from fast, photo)"),
    ({"model": 5}, "model must be a model name or a model file path, got 5"),
])
def test_bad_values_are_one_line_usage_errors(kwargs, message):
    with pytest.raises(UsageError) as caught:
        ColorizerOptions(**kwargs)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_values_are_normalised_once():
    o = ColorizerOptions(hint="throughput", max_pixels=np.int64(4800), size=np.int32(96))
    assert o.hint == "THROUGHPUT" and type(o.max_pixels) is int and o.max_pixels == 4800 and o.size == 96
    assert ColorizerOptions(max_pixels=None).max_pixels is None


def test_frozen_and_replace_checks_again():
    o = ColorizerOptions(size=96)
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.size = 0  # type: ignore[misc]
    assert dataclasses.replace(o, saturation=0.5).saturation == 0.5
    with pytest.raises(UsageError, match="size"):
        dataclasses.replace(o, size=0)
    assert o == ColorizerOptions(size=96) and hash(o) == hash(ColorizerOptions(size=96))


def test_pickles_for_ray_workers():
    o = ColorizerOptions(precision="fp16", saturation=1.3, guided=False)
    assert pickle.loads(pickle.dumps(o)) == o


def test_a_bad_value_fails_before_any_backend_or_model_is_looked_up():
    """Checked first: an unknown backend and a missing model file are not reached."""
    with pytest.raises(UsageError, match="saturation"):
        Colorizer(model="/nowhere/model.onnx", backend="tensorrt", saturation=-1)


def test_colorizer_checks_once_and_from_options_does_not_check_again(models_dir, monkeypatch):
    calls = []
    original = options_module.check_size

    def counting(value):
        calls.append(value)
        return original(value)

    monkeypatch.setitem(options_module._CHECKS, "size", counting)
    c = Colorizer(size=96, saturation=0.5)
    again = Colorizer.from_options(c.options)
    assert calls == [96] and again.options is c.options  # checked when made, not when loaded
    assert c.options == ColorizerOptions(size=96, saturation=0.5)
    assert (c.size, c.saturation, c.guided, c.max_pixels) == (96, 0.5, True, DEFAULT_MAX_PIXELS)
    with pytest.raises(AttributeError):
        c.saturation = 2.0  # the settings are the options object's: read-only
    with pytest.raises(EdgecolorError, match="needs a ColorizerOptions"):
        Colorizer.from_options({"size": 96})


def test_from_options_gives_what_keywords_give(models_dir):
    image = photo()
    opts = ColorizerOptions(size=96, saturation=0.7, guided=False)
    assert np.array_equal(Colorizer.from_options(opts).colorize(image),
                          Colorizer(size=96, saturation=0.7, guided=False).colorize(image))


def test_the_cli_and_the_library_share_one_size_bound(models_dir):
    """Issue 24: --size said 16.. while Colorizer(size=5) was accepted; one bound now, in options.py."""
    from edgecolor.cli import _options as opt

    assert (opt.SIZE.min, opt.SIZE.max) == (MIN_SIZE, MAX_SIZE)
    with pytest.raises(UsageError, match=f"size must be an integer {MIN_SIZE}"):
        Colorizer(size=5)
    assert Colorizer(size=MIN_SIZE).size == MIN_SIZE


def test_stream_options_defaults_and_the_clis():
    from edgecolor.cli import _options as opt

    o = StreamOptions()
    assert (o.stabilize, o.strength, o.workers) == (True, DEFAULT_STRENGTH, 1) and DEFAULT_STRENGTH == 0.75
    assert (opt.STRENGTH.default, opt.STRENGTH.min, opt.STRENGTH.max) == (DEFAULT_STRENGTH, 0.0, MAX_STRENGTH)
    assert (opt.WORKERS.default, opt.WORKERS.min, opt.WORKERS.max) == (1, 1, MAX_WORKERS)
    assert opt.STABILIZE.default is True
    assert StreamOptions(strength=np.float32(0.5), workers=np.int64(2)) == StreamOptions(strength=0.5, workers=2)
    assert type(StreamOptions(strength=0).strength) is float and pickle.loads(pickle.dumps(o)) == o
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.workers = 2  # type: ignore[misc]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"strength": MAX_STRENGTH + 0.01}, f"stabilization strength must be between 0 and {MAX_STRENGTH}, got 0.96"),
    ({"strength": -0.1}, "stabilization strength must be between 0 and"),
    ({"strength": float("nan")}, "stabilization strength must be between 0 and"),
    ({"strength": True}, "stabilization strength must be between 0 and"),
    ({"strength": "0.5"}, "stabilization strength must be between 0 and"),
    ({"workers": 0}, f"workers must be an integer 1..{MAX_WORKERS}, got 0"),
    ({"workers": MAX_WORKERS + 1}, f"workers must be an integer 1..{MAX_WORKERS}"),
    ({"workers": 1.5}, "workers must be an integer"),
    ({"workers": True}, "workers must be an integer"),
    ({"stabilize": 1}, "stabilize must be True or False, got 1"),
])
def test_bad_stream_options_are_one_line_usage_errors(kwargs, message):
    with pytest.raises(UsageError) as e:
        StreamOptions(**kwargs)
    assert message in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(UsageError):
        dataclasses.replace(StreamOptions(), **kwargs)
