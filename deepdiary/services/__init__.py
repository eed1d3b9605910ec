"""One function per user action: the only API the CLI, the web app, the bots and the workers call.

Every service takes an ``AppContext`` (settings, the process-wide model cache and the
library), decides its own transactions, raises the typed errors of
``deepdiary.core.errors`` and returns pydantic models (``deepdiary.services.schemas``).

Modules: ``ingest`` (photos, chats, diaries, tracks, enrichment), ``search`` (photos,
chats), ``photos`` (details, rating, duplicates, collage), ``people``, ``categories``,
``memories`` (events, places, the graph), ``ask`` (the housekeeper), ``stats``.
"""

from deepdiary.services.context import AppContext

__all__ = ["AppContext"]
