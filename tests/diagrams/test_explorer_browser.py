"""`kubespec explore`: the page driven in a real headless Chromium (issue 18): click three steps, check the state,
the steps and the path it shows; jump to a trace's violating state; the same page served live on localhost.

Chromium comes from the system's packages (.ci/install-chromium, run by `make`), driven by Playwright (a dev
extra) through ``executable_path``, so no browser is downloaded. Where either is missing the tests skip, saying
which."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from checker.cli import main

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (.ci/install-chromium "
                                "installs Debian's chromium)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def overshoot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("explore") / "t.itf.json"
    result = CliRunner().invoke(main, ["check", "replicaset-one-node", "--variant", "no-expectations", "--trace",
                                       str(path)])
    assert result.exit_code == 1, result.output
    return path


def _walk_three_steps(page: Any) -> None:
    assert page.text_content("#state-title") == "State 0 (initial)"
    assert page.locator("#tables caption").all_text_contents() == ["replicasets", "nodes"]
    seen = []
    for _ in range(3):
        button = page.locator("#steps button.step:not([disabled])").first
        label = button.text_content()
        target = button.get_attribute("data-to")
        button.click()
        page.wait_for_function(f"document.getElementById('state-title').textContent.startsWith('State {target}')")
        seen.append((label, target))
    # The first step of replicaset-one-node is the ReplicaSet controller creating the pods.
    assert seen[0][0].startswith("replicaset-controllerreplicaset-controller reconciles replicasets/default/web")
    assert "pods" in page.locator("#tables caption").all_text_contents()
    path = page.locator("#path li").all_text_contents()
    assert len(path) == 4 and path[0] == "start → state 0"
    assert [p.rsplit("state ", 1)[1] for p in path[1:]] == [target for _, target in seen]
    # Back to the first state of the path.
    page.locator("#path a").first.click()
    page.wait_for_function("document.getElementById('state-title').textContent === 'State 0 (initial)'")
    assert page.locator("#path li").count() == 1


def test_the_page_walks_the_state_space(browser: Any, overshoot: Path, tmp_path: Path) -> None:
    out = tmp_path / "explore.html"
    result = CliRunner().invoke(main, ["explore", "replicaset-one-node", "--variant", "no-expectations", "--trace",
                                       str(overshoot), "-o", str(out)])
    assert result.exit_code == 0, result.output
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(out.as_uri())
    _walk_three_steps(page)
    # Jump to the trace's last state: it violates ReplicaSetNeverOvershoots, and the page says why.
    jumps = page.locator("#traces a.jump")
    assert jumps.count() == 5
    jumps.last.click()
    page.wait_for_selector(".violation")
    assert page.text_content(".violation").startswith("✗ violates ReplicaSetNeverOvershoots: the ReplicaSet "
                                                      "controller created a pod")
    assert page.locator("#path li").count() == 5  # the path is the trace's own, up to the state jumped to
    assert not errors


def test_the_served_page_computes_states_on_demand(browser: Any, tmp_path: Path) -> None:
    command = [sys.executable, "-c", "from checker.cli import run; run()", "explore", "replicaset-one-node",
               "--variant", "no-expectations", "--serve", "--port", "0"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert "serving" in line, server.stderr.read() if server.stderr else ""
        url = line.split(" on ", 1)[1].split()[0]
        page = browser.new_page()
        page.goto(url)
        _walk_three_steps(page)
    finally:
        os.kill(server.pid, signal.SIGTERM)
        started = time.monotonic()
        server.wait(timeout=10)
        assert time.monotonic() - started < 5
    assert server.returncode == 143
