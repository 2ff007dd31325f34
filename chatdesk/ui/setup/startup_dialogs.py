"""The dialogs start-up shows before the main window exists, when it cannot go on.

Each names the file and what to do. They are modal boxes with stable objectNames
(``startupProblem``, ``startupQuestion``; buttons ``startupAccept``/``startupDecline``)
so tests can read and answer them offscreen. While ``answering_signals`` is installed
(all of start-up, in ``chatdesk.app.main``), SIGTERM/SIGINT answers the open dialog
with the safe choice, and any later one without showing it: a session logout or a
``kill`` never leaves one hanging, even when the signal comes just before it opens.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from chatdesk.quit_signals import QuitOnSignals


class _Decliner:
    """What a quit signal does at start-up: decline the open dialog and every later one."""

    def __init__(self) -> None:
        self.quitting = False
        self.box: QMessageBox | None = None

    def quit(self) -> None:
        self.quitting = True
        if self.box is not None:
            self.box.reject()


_decliner = _Decliner()


def answering_signals() -> QuitOnSignals:
    """Until uninstalled, SIGTERM/SIGINT declines start-up dialogs (see the module)."""
    return QuitOnSignals(_decliner)


def quit_requested() -> bool:
    """Whether SIGTERM/SIGINT came while ``answering_signals`` was installed."""
    return _decliner.quitting


def _run(box: QMessageBox) -> None:
    if _decliner.quitting:
        return
    _decliner.box = box
    try:
        box.exec()
    finally:
        _decliner.box = None


def tell(title: str, message: str) -> None:
    """Show ``message`` until the person closes it."""
    box = QMessageBox(QMessageBox.Icon.Critical, f"{title} — chatdesk", message)
    box.setObjectName("startupProblem")
    ok = box.addButton("Quit", QMessageBox.ButtonRole.AcceptRole)
    ok.setObjectName("startupDecline")
    box.setEscapeButton(ok)
    _run(box)
    box.deleteLater()


def ask(title: str, message: str, accept: str) -> bool:
    """True when the person chose ``accept``; quitting is the default and the escape."""
    box = QMessageBox(QMessageBox.Icon.Question, f"{title} — chatdesk", message)
    box.setObjectName("startupQuestion")
    yes = box.addButton(accept, QMessageBox.ButtonRole.AcceptRole)
    yes.setObjectName("startupAccept")
    no = box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    no.setObjectName("startupDecline")
    box.setDefaultButton(no)
    box.setEscapeButton(no)
    _run(box)
    chosen = box.clickedButton() is yes
    box.deleteLater()
    return chosen
