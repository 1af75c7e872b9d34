"""The Teams app package: manifest.json and its two icons in a zip, ready to upload
(Teams > Apps > Manage your apps > Upload an app). `producer-bot teams-package` calls this."""

from __future__ import annotations

import json
import re
import uuid
import zipfile
from pathlib import Path
from typing import Any

DEFAULT_OUT = Path("producer-bot-teams.zip")
MANIFEST = "manifest.json"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def default_manifest_dir() -> Path:
    """teams/ at the top of the repository, else in the working directory (the Docker image
    installs the code into site-packages and keeps teams/ in /app)."""
    candidates = [Path(__file__).resolve().parents[2] / "teams", Path.cwd() / "teams"]
    return next((c for c in candidates if (c / MANIFEST).is_file()), candidates[0])


def manifest_for(app_id: str, manifest_dir: Path) -> dict[str, Any]:
    """The manifest with the Azure Bot's app id in every place Teams expects it."""
    if not _GUID.match(app_id.strip()):
        raise ValueError(f"--app-id must be the Azure Bot's Microsoft App ID, a GUID such as "
                         f"{uuid.UUID(int=0)}; got {app_id!r}")
    app_id = app_id.strip().lower()
    manifest = json.loads((manifest_dir / MANIFEST).read_text(encoding="utf-8"))
    # One id for the app and its bot: Teams allows it and it keeps the package self-explanatory.
    manifest["id"] = app_id
    for bot in manifest.get("bots", []):
        bot["botId"] = app_id
    if "webApplicationInfo" in manifest:
        manifest["webApplicationInfo"]["id"] = app_id
    return manifest


def build_package(app_id: str, out: Path = DEFAULT_OUT, manifest_dir: Path | None = None) -> Path:
    """Write the zip to upload to Teams and return its path."""
    manifest_dir = manifest_dir or default_manifest_dir()
    manifest = manifest_for(app_id, manifest_dir)
    icons = [manifest["icons"]["color"], manifest["icons"]["outline"]]
    for icon in icons:
        if not (manifest_dir / icon).is_file():
            raise FileNotFoundError(f"the manifest names the icon {icon!r}, which is not in "
                                    f"{manifest_dir}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Teams wants the files at the root of the zip, not in a folder.
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as package:
        package.writestr(MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        for icon in icons:
            package.write(manifest_dir / icon, arcname=icon)
    return out
