"""benchmarks/ulcrn_width.py: the width table prints one row per width with the model's own
parameter count and MAC/s, and refuses a width the config refuses."""
import pytest


@pytest.fixture()
def width():
    pytest.importorskip("onnxruntime")
    from conftest import benchmark_module

    with benchmark_module("ulcrn_width", "ulcrn_width_bench") as mod:
        yield mod


def test_one_row_per_width_with_the_models_own_counts(width, capsys):
    from sedemo import models as M
    from sedemo.models.base import macs_per_second

    assert width.main(["--channels", "16", "20", "--seconds", "2", "--repeats", "1", "--no-rnnoise"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("ULCRN channels")]
    assert [r[2] for r in rows] == ["16", "20"]
    for r in rows:
        m = M.build_model("ulcrn", channels=int(r[2]), df_order=4)
        assert int(r[3]) == sum(p.numel() for p in m.parameters())
        assert float(r[4]) == pytest.approx(macs_per_second(m) / 1e6, abs=0.05)
        assert 0 < float(r[5]) < 5  # CPU s per s of audio


def test_bad_width_is_one_line(width):
    with pytest.raises(SystemExit, match="--channels 15") as err:
        width.main(["--channels", "15", "--no-rnnoise"])
    assert str(err.value).startswith("error: ") and "\n" not in str(err.value)
