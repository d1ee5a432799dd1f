"""A Space starts as the Hub would start it: `python -m explorer.space` deploys to a local server
speaking the Hub's protocol; the Space's files are checked out into a fresh virtual environment
built from the Space's requirements.txt alone (with the card's gradio version, as the Space
builder installs it, and `spaces`, whose ZeroGPU decorator must do nothing without a GPU); the
card's preload_from_hub entries are fetched into the Hub cache as the build does; then `app.py`
starts with SPACE_ID set and the Hub switched off, and a prediction goes through gradio_client.
"""
import subprocess
import sys
import time
import urllib.request

import pytest
from test_app import check_result, make_video
from test_hub import TOKEN, deploy, folder_files, hub_env

from helpers import CLASSES, REPO, free_port
from hub_server import FakeHub

pytestmark = pytest.mark.slow
FACE_CHECKPOINT = REPO / "checkpoints" / "wecl-face-ekman6"

PRELOAD = """
import sys
from huggingface_hub import hf_hub_download
repo_id, files, revision = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
for name in files:
    hf_hub_download(repo_id, name, revision=revision)
"""


def front_matter(card: str) -> dict:
    import yaml

    return yaml.safe_load(card.split("---\n")[1])


def wait_for(url: str, process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"app.py exited with {process.returncode}:\n{process.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"app.py did not answer on {url} within {seconds} s")


def test_a_deployed_space_starts_from_its_own_requirements_and_predicts(tiny_checkpoint, tmp_path):
    from gradio_client import Client, handle_file

    with FakeHub(tokens={TOKEN: "owner"}) as hub:
        model = hub.add_repo("owner/wecl-tiny", folder_files(tiny_checkpoint))
        sha = model.refs["main"]
        hub.add_repo("owner/wecl-face-ekman6", folder_files(FACE_CHECKPOINT))  # the face checkpoint, published
        env = hub_env(tmp_path, hub.url)
        done = deploy("owner/explorer", "--checkpoint", "owner/wecl-tiny", "--checkpoint",
                        "owner/wecl-face-ekman6", "--hardware", "zero-a10g", env=env)
        assert done.returncode == 0, done.stderr
        space = hub.repo("owner/explorer", "space")
        checkout = tmp_path / "space"
        for name, data in space.commits[space.refs["main"]].items():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            (checkout / name).write_bytes(data)
        meta = front_matter((checkout / "README.md").read_text())
        assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py" and meta["suggested_hardware"] == "zero-a10g"

        # The Space builder: a fresh venv, requirements.txt + the sdk's gradio, nothing from this repo's venv.
        venv = tmp_path / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        python = str(venv / "bin" / "python")
        pip = subprocess.run([python, "-m", "pip", "install", "-q", "-r", str(checkout / "requirements.txt"),
                              f"gradio=={meta['sdk_version']}"], capture_output=True, text=True, timeout=1200)
        assert pip.returncode == 0, pip.stderr[-3000:]
        space_env = {**hub_env(tmp_path / "space-hf", hub.url, token=None), "SPACE_ID": "owner/explorer"}
        for entry in meta["preload_from_hub"]:
            repo_id, files, revision = entry.split()
            assert revision == hub.repo(repo_id).refs["main"]
            fetched = subprocess.run([python, "-c", PRELOAD, repo_id, files, revision], env=space_env,
                                     capture_output=True, text=True, timeout=120)
            assert fetched.returncode == 0, fetched.stderr

    # The build is done and the Hub is gone: the Space runs on what was preloaded.
    space_env.update(HF_HUB_OFFLINE="1", WECL_CACHE=str(tmp_path / "wecl-cache"), GRADIO_SERVER_NAME="127.0.0.1",
                     GRADIO_SERVER_PORT=str(free_port()), PYTHONUNBUFFERED="1", GRADIO_ANALYTICS_ENABLED="False")
    space_env.pop("PYTHONPATH", None)
    uses_spaces = subprocess.run([python, "-c", "import app, spaces; print(app.gpu is spaces.GPU)"], cwd=checkout,
                                 env=space_env, capture_output=True, text=True, timeout=300)
    assert uses_spaces.stdout.strip().endswith("True"), uses_spaces.stderr
    app = subprocess.Popen([python, "app.py"], cwd=checkout, env=space_env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{space_env['GRADIO_SERVER_PORT']}/"
        wait_for(url, app, 300)
        video = make_video(tmp_path / "clip.mp4", 3.0)
        result = Client(url, verbose=False, download_files=False).predict(
            handle_file(str(video)), "", 0.5, 1, "eq9", api_name="/predict")
        check_result(result, 3.0)
        assert result["checkpoint"]["id"] == "owner/wecl-tiny" and result["checkpoint"]["revision"] == sha
        assert result["classes"] == CLASSES
        # the face checkpoint (OpenCV from the Space's own requirements) on the Space's own example
        example = checkout / "assets" / "examples" / "hopper_then_astronaut.mp4"
        face = Client(url, verbose=False, download_files=False).predict(
            handle_file(str(example)), "owner/wecl-face-ekman6", 0.7, 1, "eq9", api_name="/predict")
        assert face["checkpoint"]["id"] == "owner/wecl-face-ekman6" and face["prediction"] == "joy"
        assert [s["face"] for s in face["segments"]] == [True] * 10
        assert [(d["start"], d["end"]) for d in face["detections"]] == [(5.0, 10.0)]
    finally:
        app.terminate()
        try:
            app.wait(timeout=30)
        except subprocess.TimeoutExpired:
            app.kill()
