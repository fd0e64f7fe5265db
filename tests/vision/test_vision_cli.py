"""`plantqc vision ...`: JSON contracts, summaries, folders and one-sentence errors."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from typer.testing import CliRunner

import plantqc.cli
from tests.vision.conftest import FLAKES, big_particle_and_flakes, encode
from vision.synthetic import SyntheticDefect, draw_scale_bar, film_image, particle_image, web_image

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(plantqc.cli.app, ["vision", *args])


@pytest.fixture
def particles_png(tmp_path):
    path = tmp_path / "particles.png"
    path.write_bytes(encode(particle_image((256, 256), seed=1, cluster_probability=0.4).image))
    return path


def test_particles_json_matches_the_contract(particles_png, tmp_path):
    overlay = tmp_path / "out" / "overlay.png"
    result = invoke(
        "particles",
        str(particles_png),
        "--pixel-size-um",
        "0.5",
        "--json",
        "--filler-density",
        "5.1",
        "--polymer-density",
        "1.2",
        "--nominal-wt-pct",
        "10",
        "--overlay",
        str(overlay),
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert set(doc) == {
        "image",
        "width_px",
        "height_px",
        "pixel_size_um",
        "pixel_size_source",
        "masked_fraction",
        "annotations",
        "particles",
        "debris",
        "agglomerates",
        "dispersion",
        "loading",
        "objects",
    }
    assert set(doc["particles"]) == {
        "count",
        "area_fraction",
        "mean_eq_diameter_um",
        "d10_um",
        "d50_um",
        "d90_um",
    }
    assert set(doc["debris"]) == {"count", "area_fraction"}
    assert set(doc["agglomerates"]) == {
        "count",
        "area_fraction",
        "filler_fraction",
        "largest_area_um2",
        "items",
    }
    assert set(doc["agglomerates"]["items"][0]) == {
        "x_px",
        "y_px",
        "area_um2",
        "n_particles",
        "members",
    }
    assert set(doc["dispersion"]) == {"morisita_index", "quadrat_vmr", "clark_evans_r"}
    assert set(doc["loading"]) == {"vol_pct", "wt_pct", "nominal_wt_pct"}
    assert set(doc["objects"][0]) == {"x_px", "y_px", "area_px", "eq_diameter_px", "in_agglomerate"}
    assert overlay.read_bytes().startswith(b"\x89PNG")


def test_particles_without_densities_has_null_loading(particles_png):
    result = invoke("particles", str(particles_png), "--pixel-size-um", "1", "--json")
    assert json.loads(result.output)["loading"] is None


def test_count_debris_counts_the_flakes_beside_a_large_particle_as_particles(tmp_path):
    path = tmp_path / "flakes.png"
    path.write_bytes(encode(big_particle_and_flakes()))
    apart = json.loads(invoke("particles", str(path), "--pixel-size-um", "1", "--json").output)
    counted = json.loads(
        invoke("particles", str(path), "--pixel-size-um", "1", "--count-debris", "--json").output
    )
    assert (apart["particles"]["count"], apart["debris"]["count"]) == (1, len(FLAKES))
    assert (counted["particles"]["count"], counted["debris"]["count"]) == (1 + len(FLAKES), 0)


def test_particles_summary_is_readable(particles_png):
    result = invoke("particles", str(particles_png), "--pixel-size-um", "1")
    assert (
        result.exit_code == 0 and "particles:" in result.output and "dispersion:" in result.output
    )


def test_thickness_from_a_scale_bar(tmp_path):
    truth = film_image(seed=2, tilt_deg=2.0, thickness_px=80.0)
    path = tmp_path / "section.tif"
    path.write_bytes(encode(draw_scale_bar(truth.image, 420, 380, 200), ".tif"))
    result = invoke("thickness", str(path), "--scale-bar-um", "50", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["pixel_size_um"] == pytest.approx(0.25, rel=0.01)
    assert doc["thickness_um"]["mean"] == pytest.approx(20.0, rel=0.02)
    assert doc["tilt_deg"] == pytest.approx(2.0, abs=0.1)


def test_thickness_takes_at_most_one_scale(tmp_path):
    path = tmp_path / "section.png"
    path.write_bytes(encode(film_image(seed=1).image))
    result = invoke("thickness", str(path), "--pixel-size-um", "1", "--scale-bar-um", "5")
    assert result.exit_code == 2
    assert "Give at most one of --pixel-size-um and --scale-bar-um." in result.output


def _sem_tiff(image: np.ndarray, tag: int, text: str) -> bytes:
    from PIL import Image, TiffImagePlugin

    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[tag] = text
    info.tagtype[tag] = 2  # ASCII
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="TIFF", tiffinfo=info)
    return buf.getvalue()


def test_thickness_reads_the_pixel_size_from_fei_metadata(tmp_path):
    truth = film_image(seed=2, thickness_px=80.0)
    path = tmp_path / "section.tif"
    fei = "[User]\r\nUser=x\r\n[Scan]\r\nPixelWidth=2.5e-07\r\nPixelHeight=2.5e-07\r\n"
    path.write_bytes(_sem_tiff(truth.image, 34682, fei))
    doc = json.loads(invoke("thickness", str(path), "--json").output)
    assert doc["pixel_size_um"] == pytest.approx(0.25)
    assert doc["pixel_size_source"] == "TIFF tag 34682 (Thermo Fisher / FEI), [Scan] PixelWidth"
    assert doc["thickness_um"]["mean"] == pytest.approx(20.0, rel=0.02)


def test_particles_read_the_pixel_size_from_zeiss_metadata(tmp_path):
    path = tmp_path / "top.tif"
    zeiss = "\r\n0\r\nAP_IMAGE_PIXEL_SIZE\r\nImage Pixel Size = 15.63 nm\r\n"
    path.write_bytes(_sem_tiff(particle_image((128, 128), seed=1).image, 34118, zeiss))
    doc = json.loads(invoke("particles", str(path), "--json").output)
    assert doc["pixel_size_um"] == pytest.approx(0.01563)
    assert doc["pixel_size_source"].startswith("TIFF tag 34118 (Zeiss CZ_SEM)")


def test_an_image_without_any_scale_is_one_sentence(tmp_path):
    path = tmp_path / "section.png"
    path.write_bytes(encode(film_image(seed=1).image))
    result = invoke("thickness", str(path))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "states no pixel size in its metadata; give --pixel-size-um" in result.output


def test_defects_json_has_density(tmp_path):
    path = tmp_path / "web.png"
    path.write_bytes(encode(web_image(defects=(SyntheticDefect("pinhole", 50, 50, 6),))))
    doc = json.loads(invoke("defects", str(path), "--pixel-size-um", "10", "--json").output)
    assert doc["counts"]["pinhole"] == 1 and doc["defects_per_m2"] > 0


def test_folder_prints_one_json_line_per_image_and_fails_on_a_bad_one(tmp_path):
    for i in range(2):
        (tmp_path / f"ok{i}.png").write_bytes(encode(particle_image((128, 128), seed=i).image))
    (tmp_path / "broken.png").write_bytes(b"not really a png")
    (tmp_path / "notes.txt").write_text("ignored")
    result = invoke("particles", str(tmp_path), "--pixel-size-um", "1")
    lines = [json.loads(x) for x in result.output.splitlines() if x.startswith("{")]
    assert [d["image"] for d in lines] == ["broken.png", "ok0.png", "ok1.png"]
    assert "not an image" in lines[0]["error"]
    assert result.exit_code == 2 and "1 of 3 images could not be measured" in result.output


def test_folder_writes_one_overlay_per_image(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.png").write_bytes(encode(particle_image((128, 128), seed=3).image))
    out = tmp_path / "overlays"
    result = invoke("particles", str(src), "--pixel-size-um", "1", "--overlay", str(out))
    assert result.exit_code == 0, result.output
    assert (out / "a_overlay.png").is_file()


@pytest.mark.parametrize(
    ("content", "sentence"),
    [
        (b"", "The file is empty"),
        (b"hello", "not an image"),
        (encode(np.full((64, 64), 9, np.uint8)), "no contrast"),
        (encode(particle_image((64, 64)).image)[:200], "truncated"),
    ],
    ids=["empty", "not_an_image", "no_contrast", "truncated"],
)
def test_bad_file_is_one_sentence_and_exit_2(tmp_path, content, sentence):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    result = invoke("particles", str(path), "--pixel-size-um", "1")
    assert result.exit_code == 2
    assert "error:" in result.output and sentence in result.output
    assert "Traceback" not in result.output


def test_image_over_the_pixel_limit_is_refused(particles_png):
    result = invoke("particles", str(particles_png), "--pixel-size-um", "1", "--max-pixels", "100")
    assert result.exit_code == 2 and "more than the limit of 100 pixels" in result.output


def test_missing_path_is_one_sentence(tmp_path):
    result = invoke("defects", str(tmp_path / "nope.png"), "--pixel-size-um", "1")
    assert result.exit_code == 2 and "does not exist" in result.output
