"""Say which system libraries Qt's window plugin lacks, before Qt aborts with a wrong hint.

On a stock Debian/Ubuntu, PySide6's X11 plugin (``libqxcb.so``) fails to load when a few
``libxcb-*`` libraries are missing, and Qt then aborts with "xcb-cursor0 or libxcb-cursor0
is needed" whatever was really missing. Before the ``QApplication`` exists, chatdesk loads
the plugin itself (Qt would load it a moment later anyway, so this costs nothing when it
works); when that fails, ``ldd`` lists every missing library and the message names the
packages and the exact command that installs them.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# Debian names a library package after its soname ("libxcb-icccm.so.4" -> "libxcb-icccm4",
# "libdbus-1.so.3" -> "libdbus-1-3"); these few do not follow the rule.
_DEBIAN_EXCEPTIONS = {
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libfreetype.so.6": "libfreetype6",
    "libz.so.1": "zlib1g",
}
_SONAME = re.compile(r"^(?P<stem>lib[\w.+-]*?)\.so\.(?P<major>\d+)")
_NOT_FOUND = re.compile(r"^\s*(\S+)\s*=>\s*not found", re.MULTILINE)
LDD_TIMEOUT_S = 10


def xcb_plugin() -> Path | None:
    """The X11 platform plugin PySide6 ships, or None where there is none (not Linux)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        plugin = Path(location) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if plugin.is_file():
            return plugin
    return None


def wants_xcb(environ: dict[str, str] | os._Environ[str]) -> bool:
    """Whether Qt will use its X11 plugin: Linux, no other platform asked for, no Wayland."""
    if not sys.platform.startswith("linux"):
        return False
    platform = environ.get("QT_QPA_PLATFORM", "").split(":")[0].strip()
    if platform:
        return platform == "xcb"
    return not environ.get("WAYLAND_DISPLAY")


def missing_libraries(plugin: Path) -> list[str]:
    """The sonames ``plugin`` needs that the system cannot find; empty when it loads."""
    try:
        ctypes.CDLL(str(plugin), mode=os.RTLD_LAZY | os.RTLD_LOCAL)
    except OSError as error:
        return _listed_by_ldd(plugin) or _named_in(str(error))
    return []


def debian_package(soname: str) -> str:
    """The Debian/Ubuntu package that ships ``soname``, by Debian's naming rule."""
    if soname in _DEBIAN_EXCEPTIONS:
        return _DEBIAN_EXCEPTIONS[soname]
    match = _SONAME.match(soname)
    if match is None:
        return soname
    stem, major = match["stem"].lower(), match["major"]
    return f"{stem}-{major}" if stem[-1].isdigit() else f"{stem}{major}"


def install_command(sonames: list[str], os_release: Path = Path("/etc/os-release")) -> str:
    """The command that installs ``sonames`` on this distribution (Debian's when unknown)."""
    sudo = "" if hasattr(os, "geteuid") and os.geteuid() == 0 else "sudo "
    if _distribution_family(os_release) == "fedora":
        provides = " ".join(f"'{name}()(64bit)'" for name in sonames)
        return f"{sudo}dnf install {provides}"
    packages = " ".join(dict.fromkeys(debian_package(name) for name in sonames))
    return f"{sudo}apt-get install {packages}"


def explain(sonames: list[str], os_release: Path = Path("/etc/os-release")) -> str:
    """What a person reads on stderr when the window cannot open."""
    return (
        "chatdesk cannot open its window: Qt's X11 plugin needs system libraries that are "
        f"missing: {', '.join(sonames)}.\n"
        f"Install them with:\n    {install_command(sonames, os_release)}\n"
        "then start chatdesk again."
    )


def check(environ: dict[str, str] | os._Environ[str] = os.environ) -> str | None:
    """The explanation when Qt's window plugin cannot load here, else None."""
    if not wants_xcb(environ):
        return None
    plugin = xcb_plugin()
    if plugin is None:
        return None
    missing = missing_libraries(plugin)
    return explain(missing) if missing else None


def _listed_by_ldd(plugin: Path) -> list[str]:
    ldd = shutil.which("ldd")
    if ldd is None:
        return []
    try:
        listing = subprocess.run(
            [ldd, str(plugin)], capture_output=True, text=True, timeout=LDD_TIMEOUT_S, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return list(dict.fromkeys(_NOT_FOUND.findall(listing)))


def _named_in(dlopen_error: str) -> list[str]:
    """The library a ``dlopen`` error names ("libX.so.1: cannot open shared object file")."""
    name = dlopen_error.split(":", 1)[0].strip()
    return [name] if _SONAME.match(name) else [dlopen_error]


def _distribution_family(os_release: Path) -> str:
    try:
        text = os_release.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "debian"
    ids: list[str] = []
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key in ("ID", "ID_LIKE"):
            ids.extend(value.strip().strip('"').split())
    if any(name in ("fedora", "rhel", "centos") for name in ids):
        return "fedora"
    return "debian"
