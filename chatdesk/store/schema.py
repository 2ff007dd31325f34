"""The schema revision this build of chatdesk writes, known without importing Alembic.

Start-up compares the database's revision with ``HEAD_REVISION`` and only loads Alembic
(~70 ms) when they differ. A test keeps this constant equal to the migrations' head.
"""

from __future__ import annotations

HEAD_REVISION = "0013"
