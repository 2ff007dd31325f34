"""Testing support shipped with chatdesk: stand-ins for the outside world, never used by the app.

Kept apart from the product's modules so that nothing the window runs depends on it;
``chatdesk.bench`` and the tests use it (the pytest plugin itself is ``chatdesk.testing``).
"""
