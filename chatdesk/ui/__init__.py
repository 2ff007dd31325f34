"""The Qt window of chatdesk.

Widgets here only talk to ``chatdesk.services`` (never to a Session) and learn about
changes through ``bridge.ChangeSignals``, which turns the services' change bus into Qt
signals. Views are model/delegate based: no widget per message or per thread.
"""
