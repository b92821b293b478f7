"""MkDocs hook: the site's pictures live in the top-level img/ (the layout the project was specified with, beside
notebook/ and events/, and where the README finds them); they are added to the site as img/<name>, so a page
under docs/ names one as img/<name> and the strict build checks every such link."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

IMG = Path(__file__).resolve().parents[1] / "img"


def on_files(files: Files, config: Any) -> Files:
    for picture in sorted(IMG.iterdir()):
        if picture.is_file():
            files.append(
                File(
                    f"img/{picture.name}",
                    src_dir=str(IMG.parent),
                    dest_dir=config["site_dir"],
                    use_directory_urls=config["use_directory_urls"],
                )
            )
    return files
