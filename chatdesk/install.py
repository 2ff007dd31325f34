"""Install chatdesk from a checkout on a fresh Linux machine: ``python3 -m chatdesk.install``.

A stock Debian or Ubuntu lacks what a bare ``pip install .`` needs: ``pip`` refuses to touch
the system Python (PEP 668), ``venv`` needs ``python3-venv``, and Qt's X11 plugin needs a few
``libxcb-*`` libraries nobody has by default. This installs the missing system packages
(apt-get or dnf, through sudo when not root), makes a virtual environment in ``.venv`` beside
``pyproject.toml``, installs chatdesk into it (``--dev``: editable, with the test tools) and
links the ``chatdesk`` command into ``~/.local/bin``, saying what it did at each step.

Standard library only: it runs before anything else is installed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MIN_PYTHON = (3, 11)
CHECKOUT = Path(__file__).resolve().parent.parent

# What Qt's window needs at run time, and what makes a virtual environment. libQt6Core
# itself links GLib, which a desktop has but a stock server or minimal install lacks.
DEBIAN_PACKAGES = (
    "python3-venv",
    "libglib2.0-0",
    "libegl1",
    "libgl1",
    "libxkbcommon0",
    "libxkbcommon-x11-0",
    "libfontconfig1",
    "libdbus-1-3",
    "libxcb-cursor0",
    "libxcb-icccm4",
    "libxcb-keysyms1",
    "libxcb-image0",
    "libxcb-render-util0",
    "libxcb-xkb1",
    "libxcb-shape0",
    "libxcb-randr0",
    "fonts-dejavu-core",
)
FEDORA_PACKAGES = (
    "glib2",
    "mesa-libEGL",
    "mesa-libGL",
    "libxkbcommon-x11",
    "fontconfig",
    "dbus-libs",
    "xcb-util-cursor",
    "xcb-util-wm",
    "xcb-util-keysyms",
    "xcb-util-image",
    "xcb-util-renderutil",
    "dejavu-sans-fonts",
)


@dataclass(frozen=True)
class PackageManager:
    """How one distribution family lists and installs packages."""

    name: str
    packages: tuple[str, ...]
    query: tuple[str, ...]  # exits 0 when every named package is installed
    install: tuple[str, ...]
    refresh: tuple[str, ...] | None = None


APT = PackageManager(
    "apt-get",
    DEBIAN_PACKAGES,
    ("dpkg-query", "-W", "-f=${Status}\\n"),
    ("apt-get", "install", "-y", "--no-install-recommends"),
    ("apt-get", "update"),
)
DNF = PackageManager("dnf", FEDORA_PACKAGES, ("rpm", "-q"), ("dnf", "install", "-y"))


class InstallError(Exception):
    """A step that cannot go on; the message says what to do instead."""


def package_manager() -> PackageManager | None:
    """The distribution's package manager chatdesk knows, or None (then nothing is installed)."""
    if not sys.platform.startswith("linux"):
        return None
    for manager in (APT, DNF):
        if shutil.which(manager.name) and shutil.which(manager.query[0]):
            return manager
    return None


def missing_packages(manager: PackageManager) -> list[str]:
    """The packages of ``manager.packages`` that are not installed.

    Debian 13 and Ubuntu 24.04 renamed some libraries ``<name>t64`` (``libglib2.0-0t64``);
    either name counts, and apt-get installs the renamed one when asked for the old name.
    """
    missing = []
    for package in manager.packages:
        names = (package, f"{package}t64") if manager is APT else (package,)
        if not any(_installed(manager, name) for name in names):
            missing.append(package)
    return missing


def _installed(manager: PackageManager, package: str) -> bool:
    result = subprocess.run([*manager.query, package], capture_output=True, text=True, check=False)
    return result.returncode == 0 and (
        manager is not APT or "install ok installed" in result.stdout
    )


def as_root(command: Sequence[str]) -> list[str]:
    """``command`` run as root: itself when we are root, else through sudo."""
    if os.geteuid() == 0:
        return list(command)
    if shutil.which("sudo") is None:
        raise InstallError(
            "installing system packages needs root; run as root:\n    " + " ".join(command)
        )
    return ["sudo", *command]


def install_system_packages(manager: PackageManager, *, dry_run: bool) -> list[str]:
    """Install what is missing; returns the packages installed (or that would be)."""
    missing = missing_packages(manager)
    if not missing or dry_run:
        return missing
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = (*manager.install, *missing)
    steps = [install] if manager.refresh is None else [manager.refresh, install]
    try:
        commands = [as_root(step) for step in steps]
    except InstallError:
        # Name every step, not only the first: told just "apt-get update", a person runs
        # it, runs this again, and is told "apt-get update" again.
        raise InstallError(
            "installing system packages needs root; run as root:\n    "
            + " && ".join(" ".join(step) for step in steps)
            + "\nthen run this again"
        ) from None
    for command in commands:
        _run(command, env=env)
    return missing


def find_python() -> str:
    """A Python of at least 3.11: this one, or a newer one on PATH (Ubuntu 22.04 has 3.10)."""
    if sys.version_info >= MIN_PYTHON:
        return sys.executable
    for name in ("python3.13", "python3.12", "python3.11"):
        found = shutil.which(name)
        if found:
            return found
    raise InstallError(
        "chatdesk needs Python 3.11 or newer; install it (Debian/Ubuntu: "
        "apt-get install python3.11 python3.11-venv) and run this again with it"
    )


def make_venv(python: str, venv: Path, *, dry_run: bool) -> Path:
    """A virtual environment at ``venv`` (kept when it is already there); its python.

    One without pip is made again: ``python3 -m venv`` run before ``python3-venv`` was
    installed fails but leaves a python behind, and pip would fail in it on every run.
    """
    venv_python = venv / "bin" / "python"
    if not dry_run and not _has_pip(venv_python):
        _run([python, "-m", "venv", "--clear", str(venv)])
    return venv_python


def _has_pip(python: Path) -> bool:
    if not python.exists():
        return False
    result = subprocess.run([str(python), "-c", "import pip"], capture_output=True, check=False)
    return result.returncode == 0


def install_chatdesk(venv_python: Path, *, dev: bool, dry_run: bool) -> None:
    """chatdesk and its dependencies into the virtual environment."""
    target = ["-e", f"{CHECKOUT}[dev]"] if dev else [str(CHECKOUT)]
    if dry_run:
        return
    _run([str(venv_python), "-m", "pip", "install", "--disable-pip-version-check", *target])


def link_command(venv: Path, bin_dir: Path, *, dry_run: bool) -> Path:
    """``bin_dir/chatdesk`` pointing at the virtual environment's command."""
    link = bin_dir / "chatdesk"
    if dry_run:
        return link
    bin_dir.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(venv / "bin" / "chatdesk")
    return link


def main(argv: Sequence[str] | None = None) -> int:
    """Install; print each step and what to run next. Exit 1 with a reason when a step fails."""
    parser = argparse.ArgumentParser(
        prog="python3 -m chatdesk.install", description="Install chatdesk from this checkout."
    )
    parser.add_argument("--dev", action="store_true", help="editable, with the test tools")
    parser.add_argument("--venv", type=Path, default=CHECKOUT / ".venv", help="where (.venv)")
    parser.add_argument("--bin-dir", type=Path, default=Path.home() / ".local" / "bin")
    parser.add_argument("--no-system", action="store_true", help="skip the system packages")
    parser.add_argument("--dry-run", action="store_true", help="say what would be done")
    args = parser.parse_args(argv)
    try:
        _install(args)
    except InstallError as error:
        print(f"chatdesk.install: {error}", file=sys.stderr)
        return 1
    return 0


def _install(args: argparse.Namespace) -> None:
    python = find_python()  # before the system packages: too old a Python makes them moot
    manager = None if args.no_system else package_manager()
    if manager is None:
        print("system packages: not checked (no apt-get or dnf here, or --no-system)")
    else:
        done = install_system_packages(manager, dry_run=args.dry_run)
        verb = "would install" if args.dry_run else "installed"
        did = f"{verb} {' '.join(done)}" if done else "all there already"
        print(f"system packages ({manager.name}): {did}")
    venv_python = make_venv(python, args.venv, dry_run=args.dry_run)
    print(f"virtual environment: {args.venv} (Python: {python})")
    install_chatdesk(venv_python, dev=args.dev, dry_run=args.dry_run)
    print(f"chatdesk: installed into {args.venv}" + (" (editable, with test tools)" * args.dev))
    if args.dev:
        print(f"tests: {venv_python} -m pytest")
        return
    link = link_command(args.venv, args.bin_dir, dry_run=args.dry_run)
    print(f"command: {link}")
    if str(args.bin_dir) not in os.environ.get("PATH", "").split(os.pathsep):
        print(f"note: {args.bin_dir} is not on your PATH; start chatdesk as {link}")


def _run(command: Sequence[str], env: dict[str, str] | None = None) -> None:
    print("+ " + " ".join(command), flush=True)
    try:
        subprocess.run(command, check=True, env=env)
    except (OSError, subprocess.CalledProcessError) as error:
        raise InstallError(
            f"this step failed ({error}); fix what it printed and run again"
        ) from error


if __name__ == "__main__":
    raise SystemExit(main())
