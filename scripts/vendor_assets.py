"""Fetch the browser assets Waybill serves (and its browser tests inject) from their npm
packages, and write them where they are served from. Run it to update a version:

    .venv/bin/python scripts/vendor_assets.py

The files are committed; nothing is fetched at run time and the pages load no CDN.
``web/static/vendor/VERSIONS`` lists each file with its package, version and SHA-256, and a
test checks the committed files against it.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# (package, version, file inside the package, where it goes)
ASSETS: list[tuple[str, str, str, str]] = [
    ("htmx.org", "2.0.11", "dist/htmx.min.js", "web/static/vendor/htmx.min.js"),
    ("axe-core", "4.14.1", "axe.min.js", "tests/e2e/vendor/axe.min.js"),
    # the API's documentation page (/api/v1/docs)
    (
        "swagger-ui-dist",
        "5.36.0",
        "swagger-ui-bundle.js",
        "web/static/vendor/swagger-ui/swagger-ui-bundle.js",
    ),
    ("swagger-ui-dist", "5.36.0", "swagger-ui.css", "web/static/vendor/swagger-ui/swagger-ui.css"),
    ("swagger-ui-dist", "5.36.0", "LICENSE", "web/static/vendor/swagger-ui/LICENSE"),
]
VERSIONS = ROOT / "web/static/vendor/VERSIONS"


def fetch(package: str, version: str, inner: str, dest: Path, work: Path) -> str:
    out = subprocess.run(
        ["npm", "pack", f"{package}@{version}", "--silent", "--pack-destination", str(work)],
        check=True,
        capture_output=True,
        text=True,
    )
    tarball = work / out.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as tar:
        member = tar.extractfile(f"package/{inner}")
        if member is None:
            raise SystemExit(f"{package}@{version} has no {inner}")
        data = member.read()
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def main() -> int:
    lines = ["# file  package@version  sha256 (written by scripts/vendor_assets.py)"]
    with tempfile.TemporaryDirectory() as tmp:
        for package, version, inner, dest in ASSETS:
            digest = fetch(package, version, inner, ROOT / dest, Path(tmp))
            lines.append(f"{dest}  {package}@{version}  {digest}")
            print(f"{dest}: {package}@{version}")
    VERSIONS.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
