"""A missing system library is named, with the command that installs it, before Qt aborts.

The broken plugin is a real shared object built here that needs a library which no longer
exists, loaded with the real ``dlopen`` and listed by the real ``ldd``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from chatdesk import app, qt_platform

needs_cc = pytest.mark.skipif(
    shutil.which("cc") is None or shutil.which("ldd") is None,
    reason="building a shared object needs a C compiler and ldd",
)


def _shared_object(directory: Path, soname: str, needs: list[str]) -> Path:
    source = directory / f"{soname}.c"
    source.write_text(f"int {soname.split('.')[0].replace('-', '_')}_value(void) {{ return 1; }}\n")
    target = directory / soname
    links = [f"-l:{name}" for name in needs]
    subprocess.run(
        [
            "cc",
            "-shared",
            "-fPIC",
            f"-Wl,-soname,{soname}",
            "-o",
            str(target),
            str(source),
            f"-L{directory}",
            "-Wl,--no-as-needed",
            *links,
        ],
        check=True,
        capture_output=True,
    )
    return target


@pytest.fixture
def broken_plugin(tmp_path: Path) -> Path:
    """A plugin needing two libraries that were deleted after it was linked."""
    gone = [
        _shared_object(tmp_path, "libchatdesk-gone.so.7", []),
        _shared_object(tmp_path, "libchatdesk-lost2.so.0", []),
    ]
    plugin = _shared_object(tmp_path, "libqxcb.so", [path.name for path in gone])
    for path in gone:
        path.unlink()
    return plugin


@needs_cc
def test_every_missing_library_is_named(broken_plugin: Path) -> None:
    assert qt_platform.missing_libraries(broken_plugin) == [
        "libchatdesk-gone.so.7",
        "libchatdesk-lost2.so.0",
    ]


def test_the_shipped_plugin_loads_on_a_machine_with_the_libraries() -> None:
    plugin = qt_platform.xcb_plugin()
    assert plugin is not None
    assert qt_platform.missing_libraries(plugin) == []


@pytest.mark.parametrize(
    ("soname", "package"),
    [
        ("libxcb-icccm.so.4", "libxcb-icccm4"),
        ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
        ("libxcb-cursor.so.0", "libxcb-cursor0"),
        ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
        ("libdbus-1.so.3", "libdbus-1-3"),
        ("libEGL.so.1", "libegl1"),
        ("libX11-xcb.so.1", "libx11-xcb1"),
        ("libglib-2.0.so.0", "libglib2.0-0"),
    ],
)
def test_debian_package_names_follow_the_soname(soname: str, package: str) -> None:
    assert qt_platform.debian_package(soname) == package


def test_the_command_fits_the_distribution(tmp_path: Path) -> None:
    debian = tmp_path / "debian"
    debian.write_text('ID=ubuntu\nID_LIKE="debian"\n')
    fedora = tmp_path / "fedora"
    fedora.write_text('ID="fedora"\n')
    missing = ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    sudo = "" if os.geteuid() == 0 else "sudo "  # root needs (and may lack) no sudo
    assert qt_platform.install_command(missing, debian) == (
        f"{sudo}apt-get install libxcb-icccm4 libxcb-keysyms1"
    )
    assert qt_platform.install_command(missing, fedora) == (
        f"{sudo}dnf install 'libxcb-icccm.so.4()(64bit)' 'libxcb-keysyms.so.1()(64bit)'"
    )
    assert qt_platform.install_command(missing, tmp_path / "absent").startswith(f"{sudo}apt-get")


def test_only_the_x11_platform_is_checked() -> None:
    assert qt_platform.wants_xcb({})
    assert qt_platform.wants_xcb({"QT_QPA_PLATFORM": "xcb"})
    assert not qt_platform.wants_xcb({"QT_QPA_PLATFORM": "offscreen"})
    assert not qt_platform.wants_xcb({"WAYLAND_DISPLAY": "wayland-0"})
    assert qt_platform.wants_xcb({"WAYLAND_DISPLAY": "wayland-0", "QT_QPA_PLATFORM": "xcb"})


@needs_cc
def test_the_app_says_what_to_install_and_exits_before_qt_aborts(
    broken_plugin: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setattr(qt_platform, "xcb_plugin", lambda: broken_plugin)
    assert qt_platform.check() is not None  # else main() would go on and Qt would abort
    assert app.main([]) == 4
    err = capsys.readouterr().err
    assert "libchatdesk-gone.so.7, libchatdesk-lost2.so.0" in err
    assert "apt-get install libchatdesk-gone7 libchatdesk-lost2-0" in err
