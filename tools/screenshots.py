"""``make screenshots``: PNGs of the main pages at desktop and mobile width, for a human to look at.

Builds the real corpus (with the AI-Act decision aid when it is there), serves it with
``kg serve`` on a free loopback port, and has headless Chromium (Debian's, the same set-up as
the browser tests: :func:`tests.helpers.chromium`) save every page of :data:`PAGES` twice, at
1280 and at 390 CSS pixels wide, full length, into ``screenshots/`` (or ``--out``). A page
that does not answer 200 is named on stderr and its picture still taken (the error page).

Usage: python tools/screenshots.py [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import REAL_CORPUS, SHARED, LiveServer  # noqa: E402
from tests.helpers import chromium  # noqa: E402

#: name -> path of the pages people use most.
PAGES = {
    "home": "/",
    "vereisten": "/vereisten",
    "maatregelen-jurist-ontwerp": "/maatregelen?rollen=jurist&levenscyclus=ontwerp",
    "hulpmiddelen": "/hulpmiddelen",
    "vereiste-aia-01": "/id/urn:nl:ak:ver:aia-01",
    "maatregel-org-02": "/id/urn:nl:ak:mtr:org-02",
    "zoeken-bias": "/zoeken?q=bias",
    "sparql": "/sparql",
    "statistieken": "/statistieken",
    "beslishulp": "/beslishulp",
    "applicable": "/applicable?rol-ai-act=aanbieder&risicogroep=hoog-risico-ai-systeem",
    "begrippen": "/begrippen",
    "vocabulaire": "/id/urn:nl:ak:def:",
}
WIDTHS = {"desktop": 1280, "mobile": 390}


def build(out: Path) -> Path:
    from kg.cli import main

    arguments = ["build", "--content", str(REAL_CORPUS), "--out", str(out)]
    decision_aid = SHARED / "corpus" / "ai-verordening-beslishulp"
    if decision_aid.is_dir():
        arguments += ["--beslishulp", str(decision_aid)]
    if main(arguments) not in (0, 1):
        raise SystemExit("screenshots: the build failed")
    return out


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="screenshots-") as folder:
        server = LiveServer(build(Path(folder) / "dist"))
        try:
            for device, width in WIDTHS.items():
                browser = chromium(Path(folder) / f"profile-{device}", width, 900)
                try:
                    for name, path in PAGES.items():
                        url = server.url + path
                        if (code := status(url)) != 200:
                            print(f"screenshots: {path} answers {code}", file=sys.stderr)
                        browser.get(url)
                        height = browser.execute_script("return document.body.scrollHeight")
                        browser.set_window_size(width, min(max(int(height), 600), 8000))
                        target = args.out / f"{name}-{device}.png"
                        browser.save_screenshot(str(target))
                        print(target.relative_to(REPO) if target.is_relative_to(REPO) else target)
                finally:
                    browser.quit()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
