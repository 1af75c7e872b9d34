"""The app package: a manifest valid against the Teams schema it names, real icons, and a zip
with the Azure Bot's app id in it."""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from jsonschema import Draft4Validator

from adapters.teams.package import build_package, default_manifest_dir, manifest_for
from bot.core import Core

TEAMS_DIR = default_manifest_dir()
MANIFEST_SCHEMA = json.loads(
    (Path(__file__).parent / "schema" / "teams-manifest-1.22.json").read_text())
APP_ID = "b0b0b0b0-0000-4000-8000-000000000b07"


def schema_errors(manifest: dict) -> list[str]:
    return [f"{list(e.path)}: {e.message[:200]}"
            for e in Draft4Validator(MANIFEST_SCHEMA).iter_errors(manifest)]


def read_png(data: bytes) -> tuple[int, int, list[list[tuple[int, ...]]]]:
    """(width, height, RGBA rows) of an 8-bit RGBA PNG whose rows use filter 0."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color_type = struct.unpack(">IIBB", header[:10])
    assert (depth, color_type) == (8, 6)
    raw = zlib.decompress(idat)
    stride = 1 + 4 * width
    rows = []
    for y in range(height):
        line = raw[y * stride:(y + 1) * stride]
        assert line[0] == 0
        rows.append([tuple(line[1 + 4 * x:5 + 4 * x]) for x in range(width)])
    return width, height, rows


def test_the_manifest_is_valid_against_its_schema() -> None:
    manifest = json.loads((TEAMS_DIR / "manifest.json").read_text())
    assert manifest["$schema"].endswith("/v1.22/MicrosoftTeams.schema.json")
    assert manifest["manifestVersion"] == "1.22"  # draft-04 does not check `const`
    assert schema_errors(manifest) == []
    (bot,) = manifest["bots"]
    assert sorted(bot["scopes"]) == ["groupChat", "personal", "team"]


def test_the_command_list_names_real_commands() -> None:
    manifest = json.loads((TEAMS_DIR / "manifest.json").read_text())
    known = set(Core().commands)
    for command_list in manifest["bots"][0]["commandLists"]:
        assert {c["title"] for c in command_list["commands"]} <= known | {"producer"}


def test_the_icons_are_what_teams_asks_for() -> None:
    width, height, rows = read_png((TEAMS_DIR / "color.png").read_bytes())
    assert (width, height) == (192, 192)
    assert all(pixel[3] == 255 for row in rows for pixel in row)
    assert len({pixel[:3] for row in rows for pixel in row}) > 2  # a symbol on a colour
    width, height, rows = read_png((TEAMS_DIR / "outline.png").read_bytes())
    assert (width, height) == (32, 32)
    pixels = [pixel for row in rows for pixel in row]
    # White on transparent: every pixel is white, and both opaque and clear ones exist.
    assert all(pixel[:3] == (255, 255, 255) for pixel in pixels)
    assert any(p[3] == 0 for p in pixels) and any(p[3] == 255 for p in pixels)


def test_build_package(tmp_path: Path) -> None:
    out = build_package(APP_ID.upper(), tmp_path / "dist" / "producer-bot-teams.zip", TEAMS_DIR)
    assert out == tmp_path / "dist" / "producer-bot-teams.zip"
    with zipfile.ZipFile(out) as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(package.read("manifest.json"))
        assert package.read("color.png") == (TEAMS_DIR / "color.png").read_bytes()
    assert manifest["id"] == manifest["bots"][0]["botId"] == APP_ID
    assert manifest["webApplicationInfo"]["id"] == APP_ID
    assert schema_errors(manifest) == []


@pytest.mark.parametrize("app_id", ["", "not-a-guid", "b0b0b0b0-0000-4000-8000", APP_ID + "0"])
def test_a_wrong_app_id_is_refused(app_id: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Microsoft App ID"):
        build_package(app_id, tmp_path / "x.zip", TEAMS_DIR)
    assert not (tmp_path / "x.zip").exists()


def test_a_missing_icon_is_named(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text((TEAMS_DIR / "manifest.json").read_text())
    (tmp_path / "color.png").write_bytes((TEAMS_DIR / "color.png").read_bytes())
    with pytest.raises(FileNotFoundError, match="outline.png"):
        build_package(APP_ID, tmp_path / "x.zip", tmp_path)
    assert manifest_for(APP_ID, tmp_path)["id"] == APP_ID
