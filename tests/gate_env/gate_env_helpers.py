"""Building blocks for the environment tests: virtualenvs that can import the gate's own Pulumi SDK without a
download, and small programs and packs written into a scratch directory."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import yaml

SITELINK = "modelfort_test_sitelink"
SITELINK_VERSION = "1.0"


def gate_site_packages() -> str:
    return sysconfig.get_paths()["purelib"]


def link_to_gate_site(env_dir: Path) -> None:
    """A .pth file in the venv's site-packages that adds the gate's: pulumi, pulumi_aws, grpc become importable,
    while sys.prefix stays the venv's (what the test proves the program saw)."""
    purelib = subprocess.run([str(env_dir / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, f"{SITELINK}.pth").write_text(gate_site_packages() + "\n")


def make_venv(env_dir: Path) -> None:
    # Created from the gate's venv; --system-site-packages alone would expose the base interpreter's packages,
    # not the gate venv's, so the .pth link adds those.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(env_dir)], check=True)
    link_to_gate_site(env_dir)


def sitelink_wheel(directory: Path) -> Path:
    """A wheel holding only that .pth file, so `pip install -r requirements.txt` with --no-index can fill a new
    virtualenv offline, the way a real requirements file fills it from PyPI."""
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / f"{SITELINK}-{SITELINK_VERSION}-py3-none-any.whl"
    dist_info = f"{SITELINK}-{SITELINK_VERSION}.dist-info"
    files = {
        f"{SITELINK}.pth": gate_site_packages() + "\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {SITELINK}\nVersion: {SITELINK_VERSION}\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: modelfort-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    records = []
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            data = text.encode()
            archive.writestr(name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            records.append(f"{name},sha256={digest},{len(data)}")
        records.append(f"{dist_info}/RECORD,,")
        archive.writestr(f"{dist_info}/RECORD", "\n".join(records) + "\n")
    return wheel


def offline_requirements(path: Path, wheels: Path) -> None:
    sitelink_wheel(wheels)
    path.write_text(f"--no-index\n--find-links {wheels}\n{SITELINK}=={SITELINK_VERSION}\n")


def write_program(directory: Path, source: str, runtime: object = "python", name: str = "envprobe",
                  config: dict | None = None, stack: str = "test") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Pulumi.yaml").write_text(yaml.safe_dump({"name": name, "runtime": runtime}, sort_keys=False))
    (directory / "__main__.py").write_text(textwrap.dedent(source))
    (directory / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config or {"modelfort:zone": "production"}}))
    return directory


def write_pack(directory: Path, source: str, runtime: object = "python") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "PulumiPolicy.yaml").write_text(yaml.safe_dump({"runtime": runtime, "version": "0.0.1"}))
    (directory / "__main__.py").write_text(textwrap.dedent(source))
    return directory


# A program whose one resource carries the interpreter it ran in: the proof of which environment ran it.
PREFIX_PROGRAM = """
    import sys
    import pulumi_aws as aws

    aws.s3.Bucket("probe", tags={"prefix": sys.prefix, "executable": sys.executable})
"""

# A pack whose one (advisory) policy reports the interpreter it runs in.
PREFIX_PACK = """
    import sys
    from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy


    def where(args, report_violation):
        if args.resource_type == "aws:s3/bucket:Bucket":
            report_violation("pack prefix " + sys.prefix)


    PolicyPack(name="prefix-probe", policies=[ResourceValidationPolicy(
        name="pack-prefix", description="reports the pack's interpreter", validate=where,
        enforcement_level=EnforcementLevel.ADVISORY)])
"""

CRASHING_PACK = Path(__file__).resolve().parents[1] / "packs" / "crashing"
