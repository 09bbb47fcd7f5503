"""Open a report in headless Chromium: fail on an image that did not load or a console error.

Usage: uv run python benchmarks/check_report_browser.py [REPORT_HTML] [--screenshot PNG]

(default ``runs/default/report/index.html``). Chromium comes from the system
(``apt-get install -y chromium``). The check runs on a copy of the page with a
probe script first in its ``<head>``: it records ``console.error`` calls and
uncaught errors, and after the load event every ``<img>`` that has no pixels; the
probe writes them into the page, which ``--dump-dom`` prints. ``--screenshot``
also renders the first screen at 1400 x 900, as a reader sees it.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
WINDOW = "1400,900"
_PROBE = """<script>
window.__problems = [];
const __error = console.error;
console.error = (...args) => {
  window.__problems.push("console.error: " + args.join(" "));
  __error(...args);
};
window.addEventListener("error", (e) => {
  window.__problems.push("error: " + (e.message || e.target.alt || e.type));
}, true);
window.addEventListener("load", () => {
  for (const img of document.images) {
    if (!img.complete || img.naturalWidth === 0) {
      window.__problems.push("missing image: " + img.alt);
    }
  }
  const out = document.createElement("pre");
  out.id = "browser-check";
  out.textContent = JSON.stringify({images: document.images.length, problems: window.__problems});
  document.body.appendChild(out);
});
</script>"""


def browser() -> str | None:
    """The first Chromium on PATH, or None."""
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def _chromium(executable: str, *flags: str) -> subprocess.CompletedProcess[str]:
    # --no-sandbox: containers often run as root, where Chromium's sandbox refuses to start.
    command = [executable, "--headless", "--no-sandbox", "--disable-gpu", *flags]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


def check(html: Path, *, screenshot: Path | None = None) -> dict[str, object]:
    """``{"images": N, "problems": [...]}`` of ``html`` as Chromium loads it.

    Raises
    ------
    RuntimeError
        If no Chromium is installed or it printed no result.
    """
    executable = browser()
    if executable is None:
        raise RuntimeError("no Chromium on PATH: apt-get install -y chromium")
    page = html.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as scratch:
        probed = Path(scratch) / html.name
        probed.write_text(page.replace("<head>", "<head>" + _PROBE, 1), encoding="utf-8")
        # Long reports embed many figures: give the load event time to fire.
        result = _chromium(executable, "--virtual-time-budget=20000", "--dump-dom", probed.as_uri())
    found = re.search(r'<pre id="browser-check">(.*?)</pre>', result.stdout, re.S)
    if found is None:
        raise RuntimeError(f"Chromium printed no result for {html}: {result.stderr[-2000:]}")
    outcome: dict[str, object] = json.loads(found.group(1).replace("&quot;", '"'))
    if screenshot is not None:
        _chromium(
            executable,
            "--hide-scrollbars",
            f"--window-size={WINDOW}",
            f"--screenshot={screenshot.resolve()}",
            html.resolve().as_uri(),
        )
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "html", type=Path, nargs="?", default=REPO / "runs/default/report/index.html"
    )
    parser.add_argument("--screenshot", type=Path, help="also write the first screen as PNG")
    args = parser.parse_args()
    outcome = check(args.html, screenshot=args.screenshot)
    print(json.dumps(outcome, indent=2))
    return 1 if outcome["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
