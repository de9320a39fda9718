"""The model registry: names -> (model class, config class, variant fields).
Chapter: 05_complex_mapping.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from torch import nn

from sedemo.models.configs import CRNConfig, GCRNConfig, LSTMConfig, TCNConfig, ULCRNConfig
from sedemo.models.base import count_parameters
from sedemo.models.lstm import LSTMEnhancer
from sedemo.models.crn import CRN
from sedemo.models.gcrn import GCRN
from sedemo.models.tcn import TCN
from sedemo.models.ulcrn import ULCRN


# --------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class ModelSpec:
    """A named model: its class, config class, the config fields that make the variant
    (applied to both the default and the tiny config) and a one-line description.
    Chapter: 05_complex_mapping."""

    cls: type
    config_cls: type
    variant: dict = field(default_factory=dict)
    description: str = ""
    chapter: int = 0


#: name -> :class:`ModelSpec`. Configs as data: a variant is a set of field values.
MODELS: dict[str, ModelSpec] = {
    "lstm_mask": ModelSpec(LSTMEnhancer, LSTMConfig, dict(output="mask"),
                           "LSTM mask estimator: log-power -> LSTM -> sigmoid mask, noisy phase", 3),
    "lstm_map": ModelSpec(LSTMEnhancer, LSTMConfig, dict(output="magnitude"),
                          "LSTM direct mapping: log-power -> LSTM -> compressed magnitude, noisy phase", 3),
    "crn": ModelSpec(CRN, CRNConfig, {},
                     "CRN (Tan & Wang 2018): causal conv encoder-decoder + LSTM, magnitude mapping", 5),
    "gcrn": ModelSpec(GCRN, GCRNConfig, dict(target="complex", n_decoders=2),
                      "GCRN (Tan & Wang 2020): gated convs, grouped LSTM, shared encoder, "
                      "two decoders (real, imaginary)", 5),
    "gcrn_1dec": ModelSpec(GCRN, GCRNConfig,
                           dict(target="complex", n_decoders=1, decoder_channels=(104, 104, 56, 32)),
                           "GCRN with one wider decoder and 2 output channels (parameter-matched to gcrn)", 5),
    "gcrn_mag": ModelSpec(GCRN, GCRNConfig, dict(target="magnitude", n_decoders=1),
                          "GCRN encoder + one decoder predicting the compressed magnitude, noisy phase", 5),
    "gcrn_magphase": ModelSpec(GCRN, GCRNConfig, dict(target="mag_phase", n_decoders=2),
                               "GCRN encoder + two decoders: compressed magnitude and phase angle", 5),
    "ulcrn": ModelSpec(ULCRN, ULCRNConfig, {},
                       "ultra-light causal CRN (GTCRN class): ERB bands, subband features, dilated "
                       "GT blocks, dual-path GRUs, complex ratio mask; about 32 K parameters", 5),
    "tcn": ModelSpec(TCN, TCNConfig, {},
                     "causal Conv-TasNet-style TCN on waveforms (Luo & Mesgarani 2019): learned "
                     "encoder, dilated conv mask, transposed-conv decoder (time domain)", 6),
}


def _unknown(name) -> ValueError:
    return ValueError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")


def config_for(name: str, tiny: bool = False, **overrides):
    """The config of model ``name`` (``tiny=True``: the test-sized one), with ``overrides``.

    Raises ``ValueError`` listing the valid names for an unknown name and
    ``TypeError`` listing the fields for an unknown field.
    Chapter: 05_complex_mapping.
    """
    if name not in MODELS:
        raise _unknown(name)
    spec = MODELS[name]
    valid = [f.name for f in fields(spec.config_cls)]
    bad = [k for k in overrides if k not in valid]
    if bad:
        raise TypeError(f"{spec.config_cls.__name__} has no field(s) {', '.join(bad)}; "
                        f"fields: {', '.join(valid)}")
    kw = {**spec.variant, **overrides}
    if tiny:
        if name == "gcrn_1dec" and "decoder_channels" not in overrides:
            kw.pop("decoder_channels", None)  # the tiny config has its own matched widths
        return spec.config_cls.tiny(**kw)
    return spec.config_cls(**kw)


def build_from_config(name: str, config) -> nn.Module:
    """Model ``name`` built from an explicit ``config`` (of that model's config class).

    Chapter: 05_complex_mapping."""
    if name not in MODELS:
        raise _unknown(name)
    spec = MODELS[name]
    if not isinstance(config, spec.config_cls):
        raise TypeError(f"model {name!r} needs a {spec.config_cls.__name__}, got {type(config).__name__}")
    model = spec.cls(config)
    model.name = name
    return model


def build_model(name: str, tiny: bool = False, **overrides) -> nn.Module:
    """Build model ``name`` (see :data:`MODELS`) from its config with ``overrides``.

    ``build_model("gcrn")``: the default GCRN; ``build_model("lstm_mask", context=2,
    hidden=128)``; ``build_model("crn", tiny=True)``: the test-sized CRN. The model
    is in training mode (call ``.eval()`` for inference). Chapters 3, 5, 7.
    Chapters: 03_masks, 05_complex_mapping, 07_causality.
    """
    return build_from_config(name, config_for(name, tiny=tiny, **overrides))


def model_table(tiny: bool = False) -> list[dict]:
    """One row per registered model: name, parameters, causal, chapter, description.

    Chapter: 05_complex_mapping."""
    rows = []
    for name, spec in MODELS.items():
        m = build_model(name, tiny=tiny)
        rows.append(dict(name=name, parameters=count_parameters(m), causal=m.causal,
                         chapter=spec.chapter, description=spec.description))
    return rows


