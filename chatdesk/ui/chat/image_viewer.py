"""Opening a file a message carries: an image in a small viewer, a document with the
system's viewer.

Only stored attachments open, found by id through ``services.attachments.path_of``
(which checks the person may read it): never a path or a link from a message's text, so
Markdown images in a reply stay inert. An image is decoded off the GUI thread before
its viewer shows.

The viewer (``imageViewer``) fits the image to its window, zooms with the wheel and
+ / - (0 fits again), copies the image and saves the stored file under a name the
person picks (``choose_save_path``, which tests replace).
"""

from __future__ import annotations

import logging
import shutil
from functools import partial
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QUrl, Signal
from PySide6.QtGui import (
    QDesktopServices,
    QGuiApplication,
    QImage,
    QImageReader,
    QKeyEvent,
    QKeySequence,
    QPixmap,
    QShortcut,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from chatdesk.services.attachments import AttachmentService
from chatdesk.services.errors import ServiceError
from chatdesk.services.records import AttachmentRecord
from chatdesk.ui.notices import Notices
from chatdesk.ui.tasks import Tasks, failure_reason
from chatdesk.vocabulary import AttachmentKind

log = logging.getLogger(__name__)
ZOOM_STEP = 1.25
MIN_ZOOM, MAX_ZOOM = 0.05, 8.0


def read_image(path: Path) -> QImage:
    """The image at ``path``, decoded whole (any thread); an error says why not."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    image = reader.read()
    if image.isNull():
        raise OSError(f"the image could not be read ({reader.errorString()}).")
    return image


class ImageViewer(QDialog):
    """One image, fitted, zoomable, with Copy and Save as…"""

    def __init__(
        self, image: QImage, record: AttachmentRecord, stored: Path, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("imageViewer")
        self.setWindowTitle(record.file_name)
        self.image = image
        self.record = record
        self._stored = stored
        self.zoom = 1.0
        self._fitted = True
        self.label = QLabel(self)
        self.label.setObjectName("imageViewerImage")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setAccessibleName(record.file_name)
        self.area = QScrollArea(self)
        self.area.setWidget(self.label)
        self.area.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.area.setWidgetResizable(False)
        self.area.viewport().installEventFilter(self)  # the wheel zooms, not scrolls
        self.copy_button = QPushButton("Copy", self)
        self.copy_button.setObjectName("imageCopyButton")
        self.save_button = QPushButton("Save as…", self)
        self.save_button.setObjectName("imageSaveButton")
        self.zoom_label = QLabel(self)
        self.zoom_label.setObjectName("imageZoom")
        buttons = QHBoxLayout()
        buttons.addWidget(self.zoom_label)
        buttons.addStretch(1)
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.area, 1)
        layout.addLayout(buttons)
        self.copy_button.clicked.connect(self.copy)
        self.save_button.clicked.connect(self.save_as)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Copy), self, self.copy)
        self.resize(720, 540)
        self.fit()

    # -- zoom ------------------------------------------------------------------------

    def fit(self) -> None:
        """Show the whole image in the window (never larger than its own size)."""
        room = self.area.viewport().size()
        width, height = max(self.image.width(), 1), max(self.image.height(), 1)
        self._fitted = True
        self._show(min(1.0, room.width() / width, room.height() / height))

    def zoom_by(self, factor: float) -> None:
        self._fitted = False
        self._show(self.zoom * factor)

    def _show(self, zoom: float) -> None:
        self.zoom = max(MIN_ZOOM, min(MAX_ZOOM, zoom))
        size = self.image.size() * self.zoom
        pixmap = QPixmap.fromImage(self.image).scaled(
            size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        self.label.setPixmap(pixmap)
        self.label.resize(pixmap.size())
        self.zoom_label.setText(f"{self.zoom:.0%}")

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom_by(ZOOM_STEP**steps)
        event.accept()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if isinstance(event, QWheelEvent) and watched is self.area.viewport():
            self.wheelEvent(event)
            return True
        resized = event.type() == QEvent.Type.Resize and watched is self.area.viewport()
        if resized and self._fitted:
            # the room the image has: the window's own resize comes before its layout
            # has sized the viewport (fitted then, a photo showed at 5%)
            self.fit()
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_by(ZOOM_STEP)
        elif key == Qt.Key.Key_Minus:
            self.zoom_by(1 / ZOOM_STEP)
        elif key == Qt.Key.Key_0:
            self.fit()
        else:
            super().keyPressEvent(event)

    # -- copy and save ---------------------------------------------------------------

    def copy(self) -> None:
        QGuiApplication.clipboard().setImage(self.image)

    def choose_save_path(self) -> str | None:
        """Ask where to save a copy (a dialog); tests replace this method."""
        path, _filter = QFileDialog.getSaveFileName(self, "Save image as", self.record.file_name)
        return path or None

    def save_as(self) -> Path | None:
        """Copy the stored file (its bytes as attached) where the person says."""
        chosen = self.choose_save_path()
        if not chosen:
            return None
        target = Path(chosen)
        try:
            shutil.copyfile(self._stored, target)
        except OSError as error:
            self.zoom_label.setText(f"Not saved: {error.strerror or error}")
            return None
        return target


class AttachmentOpener(QObject):
    """Opens a message's stored files for one user (see the module doc).

    Signals:
        viewer_opened: an image viewer was shown (the ``ImageViewer``).
    """

    viewer_opened = Signal(object)

    def __init__(
        self,
        attachments: AttachmentService,
        user_id: int,
        tasks: Tasks,
        notices: Notices,
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self._attachments = attachments
        self._user_id = user_id
        self._tasks = tasks
        self._notices = notices
        self._parent = parent

    def open(self, record: AttachmentRecord) -> None:
        """Open ``record``'s stored file: an image here, anything else with the system."""
        try:
            path = self._attachments.path_of(self._user_id, record.id)
        except ServiceError as error:
            self._notices.error(f"{record.file_name} cannot be opened: {error}")
            return
        if record.kind is not AttachmentKind.IMAGE:
            if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
                self._notices.error(f"No application here opens {record.file_name}.")
            return
        task = self._tasks.start("chatdesk-image", lambda _control: read_image(path))
        task.succeeded.connect(partial(self._show, record, path))
        task.failed.connect(partial(self._failed, record))

    def _show(self, record: AttachmentRecord, path: Path, image: QImage) -> None:
        viewer = ImageViewer(image, record, path, self._parent)
        viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        viewer.show()
        self.viewer_opened.emit(viewer)

    def _failed(self, record: AttachmentRecord, error: BaseException) -> None:
        reason = failure_reason(error, f"opening {record.file_name}")
        self._notices.error(f"{record.file_name} cannot be opened: {reason}")


def _log_failure(what: str, error: BaseException) -> None:
    log.warning("%s failed: %s", what, error)
