"""Every command of the README runs against a fresh sample build (issue 25), and the UI started with
`--sample` runs with the sample's settings (issue 20: a run launched through its GraphQL API records
max_corrupt_share 0.25).

The commands are read from README.md's fenced blocks, so the README cannot go stale: a block this test
neither runs nor lists in NOT_RUN (with the reason) fails it. `.venv/bin/` stands for this interpreter's
folder; the commands run in a temporary folder (data/sample, .dagster_home and the files they write live
there), in the README's order, with the decompression of the EOL sets last (it rewrites the sample world).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
BIN = Path(sys.executable).parent
ENV_NAMES = ("TOL10M_SETTINGS", "TOL10M_SAMPLE", "TOL10M_DATA_ROOT", "TOL10M_SOURCES_ROOT")

# blocks not run here, by a word they hold, and why
NOT_RUN = {
    "scripts/run-sample.sh": "setup-venv.sh, then `tol10m build --sample`: the build is this test's first command",
    "scripts/test.sh": "the whole suite itself",
    "torchrun": "needs open_clip's training code; the loader it uses is read by pipeline/test_published_layout.py",
    "slurm/local-cluster.sh": "starts services as root: the slurm/ tests use it",
    "materialize_to_memory": "the testing example: assets/test_readme_example.py runs it",
    "tol10m push": "needs a Hugging Face Hub: release/test_push.py pushes to a local hub on 127.0.0.1",
}


def readme_blocks() -> list[tuple[str, str]]:
    """(language, text) of every fenced block of README.md that holds code."""
    return [(m[1], m[2]) for m in re.finditer(r"^```(bash|python)\n(.*?)^```", README.read_text(), re.S | re.M)]


def commands(block: str) -> list[str]:
    """A bash block's commands: continuation lines joined, comments and blank lines left out."""
    out, current = [], ""
    for line in block.splitlines():
        current += line.rstrip("\\").rstrip() + " " if line.rstrip().endswith("\\") else line
        if not line.rstrip().endswith("\\"):
            text = re.sub(r"\s+#\s.*$", "", current).strip()
            if text and not text.startswith("#"):
                out.append(text)
            current = ""
    return out


def for_the_sample(text: str, ident: str) -> str:
    """The README's placeholders and default data root, on the sample build."""
    text = text.replace(".venv/bin/", f"{BIN}/")
    text = text.replace("data/TreeOfLife-10M/", "data/sample/TreeOfLife-10M/")
    text = text.replace("/releases/<name>/", "/published/")  # a release's own folder: here the current one
    text = text.replace("<treeoflife_id | member or file name>", ident).replace(" ID.jpg ", f" {ident}.jpg ")
    return re.sub(r"\[(--[a-z-]+ [^\]]+)\]", r"\1", text)  # optional arguments given


def importable(*modules: str) -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in modules)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", headers={"Content-Type": "application/json"},
                                     data=json.dumps({"query": query, "variables": variables or {}}).encode())
    answer = json.loads(urllib.request.urlopen(request, timeout=120).read())
    assert "errors" not in answer, answer
    return answer["data"]


REPOSITORIES = "{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } } } } }"
LAUNCH = """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
  ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""
RUN = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status tags { key value } } } }"


class Sample:
    def __init__(self, folder: Path):
        self.folder = folder
        self.env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
        self.env.update(DAGSTER_HOME=str(folder / ".dagster_home"), PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        self.ran: list[str] = []

    def bash(self, command: str, timeout: float = 900) -> subprocess.CompletedProcess:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=self.folder, env=self.env,
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        self.ran.append(command)
        return done

    def ui(self, command: str) -> float:
        """Start the UI, launch `observe_sources` through GraphQL, return the run's max_corrupt_share; then
        SIGTERM, which must stop it cleanly (exit 0, no SIGKILL fallback)."""
        port = free_port()
        log = open(self.folder / "ui.log", "w")
        proc = subprocess.Popen(["bash", "-c", f"exec {command} --port {port}"], cwd=self.folder, env=self.env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 300
            while True:
                assert proc.poll() is None, (self.folder / "ui.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "the UI did not answer"
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=3).read()
                    break
                except OSError:
                    time.sleep(1)
            repo = graphql(port, REPOSITORIES)["repositoriesOrError"]["nodes"][0]
            selector = {"repositoryLocationName": repo["location"]["name"], "repositoryName": repo["name"],
                        "jobName": "observe_sources"}
            launched = graphql(port, LAUNCH, {"p": {"selector": selector, "runConfigData": {}}})["launchRun"]
            assert launched["__typename"] == "LaunchRunSuccess", launched
            run_id = launched["run"]["runId"]
            while True:
                run = graphql(port, RUN, {"id": run_id})["runOrError"]
                tags = {t["key"]: t["value"] for t in run["tags"]}
                if "tol10m/settings" in tags or run["status"] in ("FAILURE", "CANCELED"):
                    break
                assert time.monotonic() < deadline + 300, f"the run did not start: {run}"
                time.sleep(2)
            settings = json.loads(tags["tol10m/settings"])
            start = time.monotonic()
            os.kill(proc.pid, signal.SIGTERM)
            assert proc.wait(timeout=90) == 0
            stop = time.monotonic() - start
            output = (self.folder / "ui.log").read_text()
            assert "did not terminate cleanly" not in output, output[-2000:]
            print(f"UI stopped {stop:.1f} s after SIGTERM")
            self.ran.append(command)
            assert settings["data_root"] == str(self.folder / "data" / "sample" / "TreeOfLife-10M")
            return settings["max_corrupt_share"]
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            log.close()


def test_every_readme_block_is_run_or_said_why_not():
    for language, block in readme_blocks():
        assert language in ("bash", "python")
        assert any(word in block for word in NOT_RUN) or language == "python" or commands(block), block


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_every_readme_command_runs_against_a_fresh_sample_build(tmp_path):
    sample = Sample(tmp_path)
    runs = [b for b in readme_blocks() if not any(word in b[1] for word in NOT_RUN)]
    first = runs[0][1]
    assert commands(first)[0] == ".venv/bin/tol10m build --sample", "the README's first command builds the sample"
    sample.bash(for_the_sample(commands(first)[0], ""))
    catalog = (tmp_path / "data/sample/TreeOfLife-10M/published/metadata/catalog.csv").read_text().splitlines()
    ident = catalog[1].split(",")[1]
    assert re.fullmatch(r"[0-9a-f-]{36}", ident), catalog[:2]
    sample.bash(f"{BIN}/tol10m settings --sample > my.yaml")  # `my.yaml` of the README: here the sample's settings
    last = []
    for language, block in runs:
        if language == "python":
            if "import wids" in block and not importable("wids", "torch"):
                print("the wids snippet is not run: wids and torch are not installed (pip install -e '.[wids]')")
                continue
            sample.bash(f"{sys.executable} - <<'PY'\n{for_the_sample(block, ident)}\nPY")
            continue
        exports = ""  # a block's `export` lines hold for its later commands, as in one shell
        for command in commands(block):
            command = for_the_sample(command, ident)
            if command.startswith("export "):
                exports += command + "; "
                continue
            command = exports + command
            if command == for_the_sample(commands(first)[0], ""):
                continue  # built above
            if "tools.decompress" in command or "sources.decompress" in command:
                last.append(command)
            elif " ui " in f"{command} ":
                assert sample.ui(command) == 0.25, "the UI over the sample world runs with the sample's settings"
            else:
                sample.bash(command)
    for command in last:
        sample.bash(command)
    ran = "\n".join(sample.ran)
    for word in ("partitions --sample", "observe --sample", "explain", "slurm status", "ui --sample", "diff --sample",
                 "dagster asset materialize", "-c run.yaml", "load_dataset", "decompress", "make_mirror"):
        assert word in ran, f"no README command with {word!r} ran"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_sample_commands_after_the_build_see_it(tmp_path):
    """The newcomer's first hour: after `build --sample`, `partitions --sample` lists committed partitions
    that passed, `explain <id>.jpg --sample` explains, and a bad setting is one line naming it."""
    sample = Sample(tmp_path)
    sample.bash(f"{BIN}/tol10m build --sample --images 120")
    listing = sample.bash(f"{BIN}/tol10m partitions --sample").stdout
    table = listing.split("\n\n")[0].splitlines()
    header = table[0].split()
    rows = [dict(zip(header, line.split())) for line in table[1:]]
    assert rows and all(r["status"] == "committed" and r["check_wds"] == "passed" and r["last_attempt"] == "succeeded" for r in rows), listing
    plain = sample.bash(f"{BIN}/tol10m partitions").stdout  # the default data root: says where the build is
    assert "--sample" in plain, plain
    catalog = (tmp_path / "data/sample/TreeOfLife-10M/published/metadata/catalog.csv").read_text().splitlines()
    ident = catalog[1].split(",")[1]
    explained = sample.bash(f"{BIN}/tol10m explain {ident}.jpg --sample").stdout
    assert explained.startswith(ident) and "caption" in explained, explained
    (tmp_path / "bad.yaml").write_text("width: -5\n")
    bad = subprocess.run([f"{BIN}/tol10m", "build", "--config", "bad.yaml"], cwd=tmp_path, env=sample.env,
                         capture_output=True, text=True, timeout=300)
    lines = bad.stderr.splitlines()
    assert bad.returncode == 1 and len(lines) == 1, bad.stderr
    assert "setting `width`" in lines[0] and "greater than 0" in lines[0] and "bad.yaml" in lines[0], lines
