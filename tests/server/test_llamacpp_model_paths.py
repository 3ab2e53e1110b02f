"""Open WebUI manages a llama.cpp-server connection's models through llama.cpp's router-mode paths: each
model's ``status`` in the list, ``POST /models/load`` and ``/models/unload`` with ``{"model": id}``. The
daemon answers them for its local models. Live daemon on the real starter model, raw HTTP."""

from __future__ import annotations

import httpx

from tests.server.live import LiveServer

MODEL = "local/gemma3-270m"


def states(live: LiveServer) -> dict[str, tuple[bool, str]]:
    listed = httpx.get(live.url + "/v1/models").json()["data"]
    return {m["id"]: (m["loaded"], m["status"]["value"]) for m in listed if m["id"].startswith("local/")}


def test_unload_and_load_through_the_llamacpp_paths(local_server: LiveServer) -> None:
    assert httpx.post(local_server.url + "/models/load", json={"model": MODEL}, timeout=60).json() == {
        "success": True
    }
    assert states(local_server)[MODEL] == (True, "loaded")
    unloaded = httpx.post(local_server.url + "/models/unload", json={"model": MODEL}, timeout=60)
    assert unloaded.json() == {"success": True}
    assert states(local_server)[MODEL] == (False, "unloaded")
    loaded = httpx.post(local_server.url + "/models/load", json={"model": "gemma3-270m"}, timeout=60)
    assert loaded.json() == {"success": True}
    assert states(local_server)[MODEL] == (True, "loaded")


def test_an_unknown_model_is_a_404_in_openais_shape(local_server: LiveServer) -> None:
    response = httpx.post(local_server.url + "/models/unload", json={"model": "local/nope"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"
    assert httpx.post(local_server.url + "/models/load", json={}).status_code == 400


def test_auto_and_cloud_models_have_nothing_to_load(local_server: LiveServer) -> None:
    """Open WebUI offers Unload on them too: the answer says why it cannot, not that they do not exist."""
    for model in ("auto", "cloud/gpt"):
        response = httpx.post(local_server.url + "/models/unload", json={"model": model})
        assert response.status_code == 400
        assert (
            response.json()["error"]["message"]
            == f"{model} is not a local model: only local models load and unload"
        )
