"""`ssi reproduce tinystories` end to end, on tiny models and a small corpus."""

import json
import re
import shutil

from simplestories_interp.cli import main
from simplestories_interp.studies.study import rebuild_pages
from simplestories_interp.studies.tinystories import STUDY


def test_reproduce_tinystories_on_tiny_models(tiny_report):
    code, summary, report = tiny_report
    assert code == 0
    heads_json = json.loads((report / "heads.json").read_text())
    n_pos = sum(h["head_class"] == "positional" and h["layer"] == 0 for h in heads_json)
    n_sem = sum(h["head_class"] == "semantic" and h["layer"] == 0 for h in heads_json)
    assert f"{n_pos} positional head(s) in layer 0" in summary and f", {n_sem} semantic;" in summary
    assert "of them seeking entities" in (report / "index.html").read_text()
    index = (report / "index.html").read_text()
    for page in ("fig19_positional_heads.html", "fig20_semantic_heads.html", "heads_heatmap.html",
                 "fig21_neurons.html", "summary.txt", "neuron_control.json"):
        assert page in index and (report / page).is_file()
    # The index shows the figures inline: the class grid, highlighted sentences, neuron examples.
    assert "class='grid'" in index and "class='q'" in index and "<mark" in index and index.count("Finding:") == 4
    fig21 = (report / "fig21_neurons.html").read_text()
    assert fig21.count("class='unit'") == 4 and "penultimate" in fig21 and "highest-activating" in fig21
    assert "random orthogonal basis" in fig21
    heads = json.loads((report / "heads.json").read_text())
    assert len(heads) == 8 and all("head_class" in h for h in heads)
    roles = json.loads((report / "neuron_roles.json").read_text())
    assert set(roles) == {"blocks.0.mlp.hook_post", "blocks.1.mlp.hook_post"}
    control = json.loads((report / "neuron_control.json").read_text())
    assert [c["hook"] for c in control] == list(roles)
    assert set(control[0]["neurons"]) == {"token", "semantic"}
    assert len(control[0]["random"]["semantic"]["precisions"]) == 48
    assert "L0 N0" in summary and "random directions" in summary


def test_report_shares_its_javascript(tiny_report):
    """plotly and circuitsvis are written once into the folder; no page inlines them."""
    _, _, report = tiny_report
    assert (report / "plotly.min.js").stat().st_size > 1_000_000 and (report / "circuitsvis.js").is_file()
    for page in report.glob("*.html"):
        text = page.read_text()
        assert page.stat().st_size < 500_000, page.name
        assert "CircuitsVis=" not in text.replace(" ", "") or page.name == "circuitsvis.js"
    fig19 = (report / "fig19_positional_heads.html").read_text()
    assert "<script src='circuitsvis.js'></script>" in fig19
    assert "</script> Mia" not in fig19  # the user's text cannot close the script element
    assert 'src="plotly.min.js"' in (report / "heads_heatmap.html").read_text()


def test_reproduce_bad_model(capsys, tmp_path):
    code = main(["reproduce", "tinystories", "--out", str(tmp_path), "--head-model", "SimpleStories-1L"])
    assert code == 2 and "Did you mean" in capsys.readouterr().err


def test_reproduce_on_plain_text(tiny_report, tmp_path):
    """Any .txt file works: content roles come from the rule tagger, and the report says so."""
    models = tiny_report[2].parent
    stories = "\n\n".join(f"Once upon a time, a girl named Sue had a {t}. Sue loved the {t}. She played with it."
                          for t in ("kite", "boat", "cake", "hat", "ball", "drum") * 4)
    (tmp_path / "my_stories.txt").write_text(stories)
    code = main(["reproduce", "tinystories", "--out", str(tmp_path / "r"), "--head-model", str(models / "h"),
                 "--neuron-model", str(models / "n"), "--data", str(tmp_path / "my_stories.txt"),
                 "--neuron-stories", "20", "--head-stories", "20", "--device", "cpu"])
    assert code == 0
    control = json.loads((tmp_path / "r" / "neuron_control.json").read_text())
    assert {"name_first", "character_noun", "object_noun"} <= set(control[0]["semantic_roles"])
    index = (tmp_path / "r" / "index.html").read_text()
    assert "from the rule tagger" in index and "[UNK] rate" in index


def test_same_numbers_as_before_the_results_contract(tiny_report):
    """The run gives what the one-pass layout gave on the same models (fixtures/tinystories/)."""
    from tests.studies.conftest import TINYSTORIES_FIXTURE
    from tests.studies.test_study import same_numbers

    _, summary, report = tiny_report
    expected = (TINYSTORIES_FIXTURE / "summary.txt").read_text().replace("{heads}", str(report.parent / "h"))
    expected = expected.replace("{neurons}", str(report.parent / "n"))
    assert summary == expected
    for name in ("heads.json", "neuron_roles.json", "neuron_control.json"):
        before, after = (json.loads((folder / name).read_text()) for folder in (TINYSTORIES_FIXTURE, report))
        assert same_numbers(before, after) == [], name


def test_pages_rebuild_from_results_alone(tmp_path):
    """Every page and JSON file of the study comes back from results.json, in seconds and with no model."""
    from tests.studies.conftest import TINYSTORIES_FIXTURE

    shutil.copy(TINYSTORIES_FIXTURE / "results.json", tmp_path / "results.json")
    rebuild_pages(tmp_path, STUDY)
    expected = (TINYSTORIES_FIXTURE / "summary.txt").read_text().replace("{heads}", "/tmp/ts_before/h")
    assert (tmp_path / "summary.txt").read_text() == expected.replace("{neurons}", "/tmp/ts_before/n")
    for name in ("heads.json", "neuron_roles.json", "neuron_control.json"):
        assert json.loads((tmp_path / name).read_text()) == json.loads((TINYSTORIES_FIXTURE / name).read_text())
    for page in ("index.html", "fig19_positional_heads.html", "fig20_semantic_heads.html", "heads_heatmap.html",
                 "fig21_neurons.html"):
        text = (tmp_path / page).read_text()
        assert "content='simplestories_interp'" in text and not re.search(r"src=[\"']https?://", text), page
    assert (tmp_path / "fig21_neurons.html").read_text().count("class='unit'") == 4
    assert "</script> Mia" not in (tmp_path / "fig19_positional_heads.html").read_text()


def test_rebuilt_pages_escape_what_the_results_hold(tmp_path):
    """Roles come from a user's annotations: a role that is markup is shown, never run (every page)."""
    from tests.studies.conftest import TINYSTORIES_FIXTURE

    results = json.loads((TINYSTORIES_FIXTURE / "results.json").read_text())
    for record in results["heads"]["records"]:
        record["top_role"] = "<img src=x onerror=alert(1)>"
    (tmp_path / "results.json").write_text(json.dumps(results))
    rebuild_pages(tmp_path, STUDY)
    for page in tmp_path.glob("*.html"):
        assert "<img src=x" not in page.read_text(), page.name
