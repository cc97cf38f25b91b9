"""The public API: ``import asna`` without TensorFlow, ``load_metric``, and ``Metric.score``'s input contract.

Scores come from a tiny trained model (``tiny_models.py``): one pair or a
batch, as file paths, uint8 arrays or float arrays in [0, 1], must all give the
scorer's numbers, and higher must mean better. Every input that would be
silently misread is refused with one line naming the image.
"""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from asna.api import metric as api
from asna.api import default_models
from asna.core.errors import UserError
from asna.evaluation.scorer import QualityScorer
import asna
from conftest import REPO_ROOT, error_lines, run_script
from tiny_models import IMAGE_SIZE, MEAN, STD, noisy_pairs, tiny_trained_model, write_sidecar


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return tiny_trained_model(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def metric(model_path):
    return asna.load_metric(models=model_path)


def write_rgb(path, image: np.ndarray) -> str:
    assert cv2.imwrite(str(path), np.ascontiguousarray(image[..., ::-1]))
    return str(path)


def test_import_asna_loads_no_tensorflow_and_names_the_api():
    code = ("import sys, asna; names = dir(asna); asna.load_metric; asna.InputError; "
            "print('tensorflow' in sys.modules or 'keras' in sys.modules, "
            "all(n in names for n in ('load_metric', 'PerceptualLoss', 'Metric', 'UserError')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        asna.nothing  # noqa: B018


def test_one_pair_as_files_uint8_or_float_gives_the_scorers_score(metric, model_path, tmp_path):
    references, noisy = noisy_pairs(1, size=48, sigma=15)
    reference, distorted = references[0], noisy[0]
    expected = QualityScorer.from_paths([model_path]).score_pairs([reference], [distorted])[0]
    ref_file, dis_file = write_rgb(tmp_path / "r.png", reference), write_rgb(tmp_path / "d.png", distorted)
    as_uint8 = metric.score(reference, distorted)
    assert isinstance(as_uint8, float)
    assert as_uint8 == pytest.approx(expected, abs=1e-6)
    assert metric.score(ref_file, dis_file) == pytest.approx(expected, abs=1e-6)
    assert metric(reference / 255.0, distorted.astype(np.float32) / 255) == pytest.approx(expected, abs=1e-6)
    assert metric.score(tmp_path / "r.png", distorted) == pytest.approx(expected, abs=1e-6)  # mixed forms


def test_batches_give_one_score_per_pair_and_higher_is_better(metric):
    references, _ = noisy_pairs(3, seed=7)
    rng = np.random.default_rng(0)
    levels = [np.clip(references + rng.normal(0, sigma, references.shape), 0, 255).astype(np.uint8)
              for sigma in (0, 8, 20, 45)]
    by_level = np.array([metric.score(references, distorted) for distorted in levels])  # (levels, 3)
    assert by_level.shape == (4, 3) and by_level.dtype == np.float64
    assert np.all(np.diff(by_level.mean(axis=1)) < 0), by_level  # more noise, lower score
    one_by_one = [metric.score(r, d) for r, d in zip(references, levels[2])]
    np.testing.assert_allclose(metric.score(list(references), list(levels[2])), one_by_one, atol=1e-6)
    np.testing.assert_allclose(by_level[2], one_by_one, atol=1e-6)
    assert metric.higher_is_better and "higher is better" in api.Metric.__doc__
    assert "32 px input" in repr(metric) and metric.input_size == IMAGE_SIZE


def test_sixteen_bit_and_float_files_read_at_their_full_range(metric, tmp_path):
    """A 16-bit PNG of v * 257 and a float TIFF of v / 255 are the 8-bit image v, exactly."""
    references, noisy = noisy_pairs(1, sigma=20)
    reference, distorted = references[0], noisy[0]
    expected = metric.score(reference, distorted)
    bgr = np.ascontiguousarray(distorted[..., ::-1])
    assert cv2.imwrite(str(tmp_path / "d16.png"), bgr.astype(np.uint16) * 257)
    assert cv2.imwrite(str(tmp_path / "d16.tif"), bgr.astype(np.uint16) * 257)
    assert cv2.imwrite(str(tmp_path / "dfloat.tif"), bgr.astype(np.float32) / 255)
    for name in ("d16.png", "d16.tif", "dfloat.tif"):
        assert metric.score(reference, tmp_path / name) == pytest.approx(expected, abs=1e-6), name
    assert cv2.imwrite(str(tmp_path / "d255.tif"), bgr.astype(np.float32))  # floats 0-255: refused
    with pytest.raises(api.InputError, match=r"d255\.tif: a float image with values in \[0, 255\]"):
        metric.score(reference, tmp_path / "d255.tif")


def bad_inputs() -> dict[str, tuple[object, object, str]]:
    references, noisy = noisy_pairs(2)
    r, d = references[0], noisy[0]
    return {
        "0-255 floats": (r, d.astype(np.float32), r"distorted: float values in \[0, 255\].*divide by 255"),
        "[-1, 1] floats": (r / 127.5 - 1, d, r"reference: float values in \[-1, 1\].*\(image \+ 1\) / 2"),
        "NaN": (r, np.full(d.shape, np.nan), "distorted: float image with NaN"),
        "grey": (r[..., 0], d[..., 0], r"reference: a grey \(32, 32\) image"),
        "RGBA": (np.dstack([r, r[..., :1]]), d, "reference: 4 channels.*drop the alpha"),
        "channels first": (np.moveaxis(r, -1, 0), d, "reference: 32 channels.*np.moveaxis"),
        "int64": (r.astype(np.int64), d, "reference: dtype int64; give uint8"),
        "sizes differ": (r, d[:, :24], "distorted: image is 24x32, but reference is 32x32"),
        "too small": (r[:20, :20], d[:20, :20], "distorted: image is 20x20, smaller than the network's 32x32"),
        "batch lengths": (references, noisy[:1], "2 references but 1 distorted images"),
        "one and a batch": (r, noisy, "give both as one image, or both as batches"),
        "empty batch": ([], [], "reference: an empty batch"),
        "not an image": (r, 7, "distorted: got int; give a file path or an image array"),
        "missing file": ("nothere.png", d, "nothere.png: cannot read the file"),
        "batch item": (list(references), [noisy[0], noisy[1][:, :, :2]], r"distorted\[1\]: 2 channels"),
    }


@pytest.mark.parametrize("case", list(bad_inputs()))
def test_bad_input_is_refused_in_one_line_naming_the_image(metric, case):
    reference, distorted, message = bad_inputs()[case]
    with pytest.raises(api.InputError, match=message) as raised:
        metric.score(reference, distorted)
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, UserError)
    assert "\n" not in str(raised.value)


def test_score_folder_scores_each_distorted_image_against_its_reference(metric, tmp_path):
    references, noisy = noisy_pairs(2, size=40)
    (tmp_path / "Ref").mkdir()
    (tmp_path / "Dis").mkdir()
    for index in range(2):
        write_rgb(tmp_path / "Ref" / f"A000{index}.png", references[index])
        write_rgb(tmp_path / "Dis" / f"A000{index}_01_01.png", noisy[index])
    (tmp_path / "Dis" / "labels.txt").write_text("ignored")
    scores = metric.score_folder(tmp_path / "Ref", tmp_path / "Dis")
    assert list(scores) == ["A0000_01_01.png", "A0001_01_01.png"]
    np.testing.assert_allclose(list(scores.values()), metric.score(references, noisy), atol=1e-6)


def test_load_metric_options_and_a_missing_model_are_one_line_errors(monkeypatch, tmp_path, model_path):
    monkeypatch.setattr(api, "shipped_models", lambda: None)
    with pytest.raises(UserError, match=r"^no trained model is shipped in models/ yet.*models=.*--models"):
        asna.load_metric()
    for options, message in (({"tta": "all"}, "tta='all': choose one of 'full', 'flips', 'none'"),
                             ({"fit": "resize"}, "fit='resize'"),
                             ({"precision": "half"}, "precision='half'"),
                             ({"batch_size": 0}, "batch_size=0"),
                             ({"models": []}, "models=\\[\\]"),
                             ({"models": tmp_path / "absent.keras"}, "absent.keras: model file or folder not found")):
        with pytest.raises(UserError, match=message):
            asna.load_metric(**options)
    with pytest.raises(UserError, match="pool='max': choose one of 'mean', 'worst', 'structure'"):
        asna.load_metric(models=model_path, pool="max")
    lone = tmp_path / "lone.keras"
    lone.write_bytes(model_path.read_bytes())  # a model without its sidecar: refused, never scored raw
    with pytest.raises(UserError, match="lone.keras: no sidecar lone.json"):
        asna.load_metric(models=lone)
    write_sidecar(lone, image_size=IMAGE_SIZE)
    assert asna.load_metric(models=[lone]).model_paths == [lone]


def test_default_models_come_from_the_checkout_then_the_installed_copy(monkeypatch, tmp_path):
    checkout, installed = tmp_path / "checkout_models", tmp_path / "installed_models"
    monkeypatch.setattr(default_models, "CHECKOUT_MODELS", checkout)
    monkeypatch.setattr(default_models, "INSTALLED_MODELS", installed)
    monkeypatch.chdir(tmp_path)
    assert default_models.shipped_models() is None and default_models.script_default_models() is None
    installed.mkdir()
    (installed / "m.keras").write_bytes(b"")
    assert default_models.shipped_models() == installed
    assert default_models.script_default_models() == [str(installed)]
    checkout.mkdir()  # a checkout's models/ without a model: the installed copy still
    assert default_models.script_default_models() == [str(installed)]
    assert default_models.shipped_models() == installed
    (checkout / "m.keras").write_bytes(b"")
    assert default_models.shipped_models() == checkout
    assert default_models.script_default_models() == [str(checkout)]
    (tmp_path / "models").mkdir()  # models/ in the current folder: nobody reads it unless it is named
    (tmp_path / "models" / "other.keras").write_bytes(b"")
    assert default_models.script_default_models() == [str(checkout)]
    assert default_models.shipped_models() == checkout


def test_mean_and_std_of_the_sidecar_put_scores_on_its_scale(metric):
    references, noisy = noisy_pairs(2)
    standardized = metric.scorer.predict_standardized(references, noisy)[0]
    np.testing.assert_allclose(metric.score(references, noisy), standardized * STD + MEAN, atol=1e-6)


def test_the_example_of_docs_api_runs_and_prints_what_it_says(model_path, capsys):
    """docs/api.md's first Python block, with the tiny model in place of the demo's."""
    page = (REPO_ROOT / "docs" / "api.md").read_text()
    section = page.split("## Scoring from Python", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    shown = section.split("it printed:\n\n```\n", 1)[1].split("```", 1)[0].splitlines()
    assert '"runs/demo/model.keras"' in code
    exec(compile(code.replace('"runs/demo/model.keras"', repr(str(model_path))), "docs/api.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == len(shown) == 5
    assert printed[0] == shown[0].replace("64 px", f"{IMAGE_SIZE} px")
    identical, noisy = map(float, printed[1].split())
    assert identical > noisy and float(printed[3]) == noisy  # higher is better; floats in [0, 1] agree
    assert printed[2].startswith("[") and printed[4] == shown[4]  # the batch; the refusal, word for word


def test_the_scripts_refuse_a_0_255_float_tiff_in_one_line(model_path, tmp_path):
    references, noisy = noisy_pairs(1)
    write_rgb(tmp_path / "r.png", references[0])
    assert cv2.imwrite(str(tmp_path / "d.tif"), np.ascontiguousarray(noisy[0][..., ::-1]).astype(np.float32))
    result = run_script("evaluation_single_image.py", "--ref", "r.png", "--distorted", "d.tif",
                        "--models", str(model_path), cwd=tmp_path, timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    assert error_lines(result) == ["error: d.tif: a float image with values in [0, 255]; only float images with "
                                   "every value in [0, 1] (0 black, 1 white) are read (save it as 8- or 16-bit, "
                                   "or scale it to [0, 1])"]
