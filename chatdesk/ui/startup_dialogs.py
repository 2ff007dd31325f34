"""The dialogs start-up shows before the main window exists, when it cannot go on.

Each names the file and what to do. They are modal boxes with stable objectNames
(``startupProblem``, ``startupQuestion``; buttons ``startupAccept``/``startupDecline``)
so tests can read and answer them offscreen, and SIGTERM/SIGINT closes them as a
decline, so a session logout or ``kill`` never leaves one hanging.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from chatdesk.quit_signals import QuitOnSignals


class _Decliner:
    """What a quit signal does to an open dialog: answer it with the safe choice."""

    def __init__(self, box: QMessageBox) -> None:
        self._box = box

    def quit(self) -> None:
        self._box.reject()


def _run(box: QMessageBox) -> None:
    signals = QuitOnSignals(_Decliner(box))
    try:
        box.exec()
    finally:
        signals.uninstall()


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
