"""Copy the front end's npm packages (web/node_modules, pinned by web/package-lock.json) into the
package's static folder, so the web UI works with no network. `make` runs this after `npm ci`."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = ROOT / "web" / "node_modules"
VENDOR = ROOT / "deepdiary" / "api" / "static" / "vendor"

FILES = {
    "leaflet/dist/leaflet.js": "leaflet.js",
    "leaflet/dist/leaflet.css": "leaflet.css",
    "leaflet.markercluster/dist/leaflet.markercluster.js": "leaflet.markercluster.js",
    "leaflet.markercluster/dist/MarkerCluster.css": "MarkerCluster.css",
    "leaflet.markercluster/dist/MarkerCluster.Default.css": "MarkerCluster.Default.css",
    "topojson-client/dist/topojson-client.min.js": "topojson-client.min.js",
    "world-atlas/countries-50m.json": "countries-50m.json",
    "world-atlas/land-50m.json": "land-50m.json",
    "cytoscape/dist/cytoscape.min.js": "cytoscape.min.js",
}


def main() -> int:
    missing = [src for src in FILES if not (MODULES / src).is_file()]
    if missing:
        print(f"missing in {MODULES}: {', '.join(missing)} (run `npm ci --prefix web`)", file=sys.stderr)
        return 1
    VENDOR.mkdir(parents=True, exist_ok=True)
    for src, dest in FILES.items():
        shutil.copyfile(MODULES / src, VENDOR / dest)
    images = VENDOR / "images"
    shutil.copytree(MODULES / "leaflet/dist/images", images, dirs_exist_ok=True)
    print(f"vendored {len(FILES)} files into {VENDOR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
