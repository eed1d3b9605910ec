"""The web app: a FastAPI server whose every route is one service call.

``create_app(ctx)`` builds the app around one ``AppContext`` (datasette's shape: the CLI
builds the application object, the server serves it).
"""

from deepdiary.api.app import create_app

__all__ = ["create_app"]
