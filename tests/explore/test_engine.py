"""The explorer's answers (predictions, attribution, component pages, ablation) and its API, bad inputs included."""

import threading

import pytest
import torch
from starlette.testclient import TestClient

from simplestories_interp.analysis.attribution import direct_logit_attribution
from simplestories_interp.errors import InvalidArgumentError
from simplestories_interp.explore.server import build_app
from tests.explore.conftest import make_explorer

PROMPT = "Once upon a time, Lily found a red ball in the park. She gave the ball to"


def test_predictions_and_loss_per_token(explorer):
    r = explorer.predict(PROMPT)
    n = len(r["tokens"])
    assert n == len(r["ids"]) == len(r["predictions"]) == len(r["loss"]) and r["tokens"][0] == "[EOS]"
    assert r["loss"][0] is None and all(x > 0 for x in r["loss"][1:])
    probs = [p for _, p, _ in r["predictions"][-1]]
    assert all(ask == text or ask.startswith("#") for text, _, ask in r["predictions"][-1])
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001


def test_attribution_is_exact_without_norms(norm_free_model, tmp_path):
    """On a norm-free model each head's and neuron's contribution is its exact share of the logit."""
    ex = make_explorer(norm_free_model, tmp_path, with_sae=False)
    pos = 6
    r = ex.attribute(PROMPT, pos, "the", top=10_000)
    tokens = norm_free_model.to_tokens(PROMPT)[0]
    exact = direct_logit_attribution(norm_free_model, tokens, pos, ex.token_id("the"))
    got = {row["id"]: row["value"] for row in r["rows"]}
    assert got["L1H2"] == pytest.approx(float(exact.heads[1, 2]), abs=1e-3)
    assert got["L0N5"] == pytest.approx(float(exact.neurons[0, 5]), abs=1e-3)
    assert r["logit"] == pytest.approx(exact.logit, abs=1e-3) and "exact" in r["method"]


def test_contrast_and_latents(explorer):
    r = explorer.attribute(PROMPT, 10, "the", contrast="a", top=10_000)
    assert r["contrast"] == "a" and any(row["id"].startswith("S0F") for row in r["rows"])
    values = [abs(row["value"]) for row in r["rows"]]
    assert values == sorted(values, reverse=True)
    assert "frozen" in r["method"]


@pytest.mark.parametrize("mode", ["zero", "mean"])
def test_ablating_the_top_component_changes_the_logit(explorer, mode):
    pos = len(explorer.predict(PROMPT)["tokens"]) - 1
    before = explorer.attribute(PROMPT, pos, "the")
    top = before["rows"][0]["id"]
    after = explorer.attribute(PROMPT, pos, "the", ablate=top, mode=mode)
    assert after["ablated"] == [top] and after["logit"] != before["logit"]
    assert explorer.attribute(PROMPT, pos, "the")["logit"] == before["logit"]  # hooks removed afterwards


def test_ablating_a_latent_moves_the_logit(explorer):
    r = explorer.attribute(PROMPT, 10, "the", top=10_000)
    latent = next(row["id"] for row in r["rows"] if row["id"].startswith("S0F"))
    assert explorer.attribute(PROMPT, 10, "the", ablate=latent)["logit"] != r["logit"]


def test_component_pages(explorer):
    head = explorer.component("L1H2", PROMPT)
    n = len(head["prompt"]["tokens"])
    assert head["stats"]["head_class"] in ("positional", "semantic", "mixed", "sink")
    assert len(head["prompt"]["attention"]) == n and len(head["stats"]["argmax_offsets"]) == 18
    neuron = explorer.component("L0N3", PROMPT)
    assert "role" in neuron["role"] and "top activations" in neuron["card"]
    assert len(neuron["prompt"]["activations"]) == n
    latent = explorer.component("S0F1")
    assert "best role" in latent["role"] and "prompt" not in latent
    assert (explorer.views.folder / "L0N3.json").is_file()  # cached on disk


@pytest.mark.parametrize("call,message", [
    (lambda ex: ex.predict("   "), "empty"),
    (lambda ex: ex.attribute(PROMPT, 999, "the"), "outside the prompt"),
    (lambda ex: ex.attribute(PROMPT, 3, "thhe"), "Did you mean 'the'"),
    (lambda ex: ex.attribute(PROMPT, 3, "#99999"), "outside the vocabulary"),
    (lambda ex: ex.predict(PROMPT, ablate="L7H0"), "layers 0..1"),
    (lambda ex: ex.predict(PROMPT, ablate="L0H9"), "heads 0..3"),
    (lambda ex: ex.predict(PROMPT, ablate="S3F0"), "no SAE 3"),
    (lambda ex: ex.predict(PROMPT, ablate="S0F999"), "features 0..63"),
    (lambda ex: ex.predict(PROMPT, ablate="head7"), "not a component id"),
    (lambda ex: ex.predict(PROMPT, mode="half"), "'zero' or 'mean'"),
    (lambda ex: ex.attribute(PROMPT, 3, "the", contrast="the"), "the target itself"),
    (lambda ex: ex.attribute(PROMPT, 3, "#\u00b2"), "not a token"),
    (lambda ex: ex.attribute(PROMPT, 3, "#" + "9" * 5000), "not a token"),
    (lambda ex: ex.predict(PROMPT, ablate="L" + "1" * 5000 + "H0"), "not a component id"),
])
def test_bad_input_is_a_clear_error(explorer, call, message):
    with pytest.raises(InvalidArgumentError, match=message):
        call(explorer)


def test_a_long_prompt_is_cut_with_a_notice(explorer):
    r = explorer.predict("and then they ran " * 40)
    assert len(r["tokens"]) == explorer.model.cfg.n_ctx and "cut to the model's context" in r["notice"]


def test_api_endpoints_and_errors(explorer):
    client = TestClient(build_app(explorer), raise_server_exceptions=False)
    assert client.get("/").status_code == 200 and "app.js" in client.get("/").text
    for asset in ("app.js", "app.css", "circuitsvis.js", "views.css"):
        assert client.get(f"/static/{asset}").status_code == 200, asset
    assert client.get("/api/info").json()["saes"][0]["hook"] == "blocks.0.hook_resid_post"
    assert len(client.get("/api/predict", params={"prompt": PROMPT}).json()["tokens"]) > 10
    r = client.get("/api/attribute", params={"prompt": PROMPT, "pos": 5, "target": "the"})
    assert r.status_code == 200 and r.json()["rows"]
    assert client.get("/api/component/L0H1", params={"prompt": PROMPT}).json()["kind"] == "head"
    bad = [("/api/predict", {"prompt": ""}), ("/api/attribute", {"prompt": PROMPT, "pos": "x", "target": "the"}),
           ("/api/attribute", {"prompt": PROMPT, "pos": 2, "target": "zzzq"}), ("/api/component/L9N0", {}),
           ("/api/predict", {"prompt": PROMPT, "ablate": "L0H1,nonsense"})]
    for path, params in bad:
        r = client.get(path, params=params)
        assert r.status_code == 400 and r.json()["error"] and "Traceback" not in r.text, (path, params)
    for path in ("/static/../pyproject.toml", "/static/index.html", "/nothing", "/api/component"):
        r = client.get(path)
        assert r.status_code == 404 and "error" in r.json(), path  # no path but the listed assets is served


def test_only_requests_naming_the_loopback_address_are_served(explorer):
    """DNS rebinding: a page on another site cannot reach the explorer through a name it controls."""
    app = build_app(explorer, hosts=("127.0.0.1", "localhost"))
    assert TestClient(app, base_url="http://127.0.0.1:8765").get("/api/info").status_code == 200
    assert TestClient(app, base_url="http://evil.example:8765").get("/api/info").status_code == 400


def test_an_internal_error_is_a_500_without_a_traceback(explorer, monkeypatch):
    monkeypatch.setattr(explorer, "predict", lambda *a: 1 / 0)
    r = TestClient(build_app(explorer), raise_server_exceptions=False).get("/api/predict", params={"prompt": "x"})
    assert r.status_code == 500 and r.json() == {"error": "internal error (ZeroDivisionError); see the terminal"}


def test_several_tabs_at_once(tmp_path, tiny_model):
    """Requests in parallel (ablated and not, and first visits that scan the corpus with the model) each
    get the answer they would get alone: TransformerLens removes every hook after a run, so each run holds
    the lock."""
    pos, modes = 8, {"": "zero", "L0H1": "zero", "L1N2": "mean"}
    reference = make_explorer(tiny_model, tmp_path / "alone").component("L1N7")["card"]
    fresh = make_explorer(tiny_model, tmp_path / "fresh")  # nothing scanned or cached yet
    alone = {a: make_explorer(tiny_model, tmp_path / a).attribute(PROMPT, pos, "the", ablate=a, mode=modes[a])["logit"]
             for a in modes}
    results, pages, errors = {}, [], []

    def ask(a, i):
        try:
            results[(a, i)] = fresh.attribute(PROMPT, pos, "the", ablate=a, mode=modes[a])["logit"]
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def visit():
        try:
            pages.append(fresh.component("L1N7")["card"])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(a, i)) for a in alone for i in range(4)]
    threads += [threading.Thread(target=visit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and all(v == alone[a] for (a, _), v in results.items())
    assert pages == [reference, reference]  # the scan saw no other request's ablation
    assert torch.is_grad_enabled()  # the explorer's no_grad does not leak


def test_saes_from_another_model_or_hook_are_refused(tiny_model, tmp_path):
    from simplestories_interp.explore.launch import load_saes
    from simplestories_interp.sae.config import SAEConfig
    from simplestories_interp.sae.training import make_sae

    def saved(name, hook, d_in):
        sae = make_sae(SAEConfig(hook=hook, d_sae=16, k=2, device="cpu"), d_in, {"hook_name": hook})
        sae.save_inference_model(str(tmp_path / name))
        return str(tmp_path / name)

    ok = saved("ok", "blocks.1.hook_resid_pre", 32)
    assert load_saes(tiny_model, [ok], "cpu")[0].hook == "blocks.1.hook_resid_pre"
    with pytest.raises(InvalidArgumentError, match="d_in 48.*trained on another model"):
        load_saes(tiny_model, [saved("wide", "blocks.1.hook_resid_pre", 48)], "cpu")
    with pytest.raises(InvalidArgumentError, match="attributes to SAEs on the residual"):
        load_saes(tiny_model, [saved("pattern", "blocks.0.attn.hook_pattern", 32)], "cpu")
