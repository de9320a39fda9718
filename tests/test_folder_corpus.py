"""FolderCorpus understands the common layouts of clean/noisy folders (clean/ + noisy/,
train/ + test/ sub-folders, VoiceBank-DEMAND's names) and refuses ambiguous ones with a
message naming the folders it saw."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from sedemo import data


def _pairs(folder, clean="clean", noisy="noisy", names=("a", "b")):
    """Write tiny clean/noisy pairs ``folder/clean/<name>.wav`` and ``folder/noisy/<name>.wav``."""
    x = 0.1 * np.sin(2 * np.pi * 440 * np.arange(1600) / 16000)
    for sub, gain in ((clean, 1.0), (noisy, 0.5)):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        for n in names:
            sf.write(str(folder / sub / f"{n}.wav"), gain * x, 16000, subtype="PCM_16")


def _ids(corpus, split):
    return sorted(it.id for it in corpus.items(split))


def test_clean_and_noisy_folders_form_the_test_split(tmp_path):
    _pairs(tmp_path)
    c = data.FolderCorpus(tmp_path)
    assert _ids(c, "test") == ["a", "b"] and not c.items("train")
    assert c.info["layout"] == "clean-noisy" and "clean-noisy" in c.describe()
    clean, noisy = c.items("test")[0].load()
    assert clean.shape == noisy.shape == (1600,)


def test_split_sub_folders(tmp_path):
    _pairs(tmp_path / "train", names=("t1", "t2", "t3"))
    _pairs(tmp_path / "val", names=("v1",))
    _pairs(tmp_path / "test", names=("e1", "e2"))
    c = data.FolderCorpus(tmp_path)
    assert c.info["layout"] == "splits"
    assert _ids(c, "train") == ["t1", "t2", "t3"]
    assert _ids(c, "valid") == ["v1"]
    assert _ids(c, "test") == ["e1", "e2"]
    assert all(it.clean_path.parent == tmp_path / "train" / "clean" for it in c.items("train"))


@pytest.mark.parametrize("variant", ["", "_28spk", "_56spk"])
def test_voicebank_demand_train_and_test_sets_are_kept_apart(tmp_path, variant):
    """Regression: the old code searched the test set's names first for both splits, so a
    VoiceBank-DEMAND folder gave the test set as the training set too, silently."""
    _pairs(tmp_path, f"clean_trainset{variant}_wav", f"noisy_trainset{variant}_wav", names=("p226_001", "p226_002"))
    _pairs(tmp_path, "clean_testset_wav", "noisy_testset_wav", names=("p232_001",))
    c = data.FolderCorpus(tmp_path)
    assert _ids(c, "train") == ["p226_001", "p226_002"]
    assert _ids(c, "test") == ["p232_001"]
    assert c.info["layout"] == "voicebank-demand"
    for it in c.items("train"):
        assert it.clean_path.parent.name == f"clean_trainset{variant}_wav"
        assert it.noisy_path.parent.name == f"noisy_trainset{variant}_wav"
    assert c.info["splits"]["test"] == ["clean_testset_wav", "noisy_testset_wav"]


def test_voicebank_demand_test_set_alone(tmp_path):
    _pairs(tmp_path, "clean_testset_wav", "noisy_testset_wav", names=("p232_001",))
    c = data.FolderCorpus(tmp_path)
    assert _ids(c, "test") == ["p232_001"] and not c.items("train")


def test_voicebank_demand_clean_set_without_its_noisy_partner_is_refused(tmp_path):
    """Regression: the old code used the test set for train when noisy_trainset_wav was missing."""
    _pairs(tmp_path, "clean_testset_wav", "noisy_testset_wav", names=("p232_001",))
    _pairs(tmp_path, "clean_trainset_wav", "clean_trainset_wav", names=("p226_001",))
    with pytest.raises(ValueError, match=r"clean_trainset_wav/ has no partner noisy_trainset_wav/.*saw the folders"):
        data.FolderCorpus(tmp_path)


def test_two_voicebank_training_sets_are_ambiguous(tmp_path):
    _pairs(tmp_path, "clean_trainset_28spk_wav", "noisy_trainset_28spk_wav")
    _pairs(tmp_path, "clean_trainset_56spk_wav", "noisy_trainset_56spk_wav")
    with pytest.raises(ValueError, match=r"2 VoiceBank-DEMAND train sets.*clean_trainset_28spk_wav, "
                                         r"clean_trainset_56spk_wav"):
        data.FolderCorpus(tmp_path)


@pytest.mark.parametrize("extra", [("train", "clean", "noisy"), ("clean_testset_wav", "noisy_testset_wav")])
def test_two_layouts_at_once_are_ambiguous(tmp_path, extra):
    _pairs(tmp_path)
    if extra[0] == "train":
        _pairs(tmp_path / "train")
    else:
        _pairs(tmp_path, *extra)
    with pytest.raises(ValueError, match=r"mixes the layouts clean/ \+ noisy/ and .*saw the folders \["):
        data.FolderCorpus(tmp_path)


def test_incomplete_or_doubled_split_folders_are_refused(tmp_path):
    _pairs(tmp_path / "train")
    (tmp_path / "test" / "clean").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"test: clean/ has no partner noisy/ \(saw the folders \['clean'\] in test/\)"):
        data.FolderCorpus(tmp_path)
    (tmp_path / "test" / "clean").rmdir()
    (tmp_path / "test" / "audio").mkdir()
    with pytest.raises(ValueError, match=r"no clean/ and noisy/ sub-folders.*\['audio'\]"):
        data.FolderCorpus(tmp_path)
    (tmp_path / "test" / "audio").rmdir()
    (tmp_path / "test").rmdir()
    _pairs(tmp_path / "valid")
    _pairs(tmp_path / "dev")
    with pytest.raises(ValueError, match=r"2 folders for the valid split \(valid, dev"):
        data.FolderCorpus(tmp_path)


def test_clean_without_noisy_and_no_layout(tmp_path):
    (tmp_path / "clean").mkdir()
    with pytest.raises(ValueError, match=r"clean/ has no partner noisy/ \(saw the folders \['clean'\]\)"):
        data.FolderCorpus(tmp_path)
    (tmp_path / "clean").rmdir()
    (tmp_path / "wavs").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no clean/noisy pairs .*saw the folders \['wavs'\]"):
        data.FolderCorpus(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        data.FolderCorpus(tmp_path / "missing")


def test_empty_pair_folders(tmp_path):
    (tmp_path / "clean").mkdir()
    (tmp_path / "noisy").mkdir()
    with pytest.raises(FileNotFoundError, match=r"clean/ \+ noisy/ hold no \.wav or \.flac files"):
        data.FolderCorpus(tmp_path)
