"""The --track spec in the config (parse, check, show, config.json), the run header's line,
and tracking.png."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from jaxgd.core.errors import ConfigError, UnknownNameError
from jaxgd.experiments.config import TrainConfig, resume_config, validate
from jaxgd.experiments.trackspec import parse_track, show_track


@pytest.mark.parametrize("text, want", [
    ("sharpness", (("sharpness", 1),)),
    ("sharpness:10,noise_scale:50,monitors", (("sharpness", 10), ("noise_scale", 50), ("monitors", 1))),
    (" noise-scale : 3 , monitors:1", (("noise_scale", 3), ("monitors", 1))),
    ("", ()),
])
def test_parse_track(text, want):
    assert parse_track(text) == want
    assert parse_track(show_track(want)) == want


@pytest.mark.parametrize("text, error, fragment", [
    ("sharpnes:5", UnknownNameError, "unknown instrument 'sharpnes'. Did you mean 'sharpness'?"),
    ("sharpness:0", ConfigError, "EVERY '0' of sharpness is not a whole number of epochs"),
    ("sharpness:1.5", ConfigError, "EVERY '1.5' of sharpness"),
    ("sharpness:", ConfigError, "EVERY '' of sharpness"),
    ("sharpness,noise_scale,sharpness:3", ConfigError, "sharpness is named twice"),
    ("sharpness,,monitors", ConfigError, "an empty item"),
    ("monitors:5", ConfigError, "monitors is recorded at every epoch"),
])
def test_bad_spec_names_the_flag_value_and_what_is_accepted(text, error, fragment):
    with pytest.raises(error) as info:
        parse_track(text)
    message = str(info.value)
    assert message.startswith(f"--track {text!r}: ") and fragment in message
    assert "Accepted: sharpness[:EVERY], noise_scale[:EVERY] and monitors" in message
    assert "\n" not in message


def test_every_without_a_name_was_called_two_commas_in_a_row():
    with pytest.raises(ConfigError, match=r"^--track 'monitors,:2': ':2' names no instrument before ':'"):
        parse_track("monitors,:2")
    with pytest.raises(ConfigError, match="an empty item"):  # the comma case keeps its words
        parse_track("monitors,")


def test_config_takes_text_or_pairs_and_round_trips_through_json():
    cfg = TrainConfig(track="sharpness:5,monitors")
    assert cfg.track == (("sharpness", 5), ("monitors", 1))
    back = TrainConfig.from_dict(__import__("json").loads(cfg.to_json()))
    assert back == cfg and TrainConfig(track=[["sharpness", 5], ["monitors", 1]]) == cfg
    with pytest.raises(ConfigError, match=r"track=\(\('sharpness', 0\),\) \(--track\)"):
        validate(TrainConfig(track=(("sharpness", 0),)))


def test_resume_keeps_the_spec_and_refuses_another():
    stored = TrainConfig(track="sharpness:2", epochs=10)
    assert resume_config(stored, {"epochs": 20}).track == (("sharpness", 2),)
    with pytest.raises(ConfigError, match=r"--resume: track=.*differs .*\(--track\)"):
        resume_config(stored, {"track": (("sharpness", 3),)})


def test_header_names_what_is_tracked():
    from jaxgd.experiments.build import make_problem
    from jaxgd.experiments.header import run_header

    cfg = TrainConfig(track="sharpness:5,noise_scale,monitors")
    lines = run_header(cfg, make_problem(cfg))
    line = next(x for x in lines if x.startswith("track "))
    assert "sharpness every 5 epochs (20 power steps on all 4 training rows; 2/lr = 4)" in line
    assert "noise_scale every epoch" in line and "monitors every epoch (the mean" in line
    assert not any("--track" in x for x in lines)  # not repeated among the other settings
    plain = run_header(dataclasses.replace(cfg, track=None), make_problem(cfg))
    assert not any(x.startswith("track ") for x in plain)


def test_tracking_figure_draws_the_recorded_points_and_the_2_over_lr_line():
    pytest.importorskip("matplotlib")
    from jaxgd.experiments.trackplots import has_tracking, tracking_figure

    nan = np.nan
    columns = {"epoch": np.arange(1.0, 5.0), "loss": np.ones(4),
               "sharpness": np.array([nan, 3.0, nan, 3.5]), "two_over_lr": np.array([nan, 4.0, nan, 4.0]),
               "noise_scale": np.array([10.0, 20.0, 30.0, 40.0]),
               "lr": np.full(4, 0.5), "update_norm": np.ones(4), "update_ratio": np.full(4, 1e-2),
               "update_ratio[0].w": np.full(4, 2e-2)}
    assert has_tracking(columns) and not has_tracking({"epoch": columns["epoch"], "loss": np.ones(4)})
    fig = tracking_figure(columns)
    sharp, noise, ratio = fig.axes[:3]
    assert sharp.lines[0].get_xdata().tolist() == [2.0, 4.0]
    assert sharp.lines[0].get_ydata().tolist() == [3.0, 3.5]
    assert sharp.lines[1].get_ydata().tolist() == [4.0, 4.0]  # the edge of stability, 2 / lr
    assert noise.lines[0].get_ydata().tolist() == [10.0, 20.0, 30.0, 40.0]
    assert [line.get_label() for line in ratio.lines] == ["all parameters", "[0].w"]
    assert ratio.get_yscale() == "log"
