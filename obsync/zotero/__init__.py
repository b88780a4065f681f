"""Zotero's Web API as a second source beside the export folder.

``settings`` holds the ``[zotero]`` section and the key; ``items`` turns API items into
annotations (pure); ``api`` is the HTTP client (versions, pages, back-off); ``source``
keeps each library's items in the state store and hands a sync its annotations;
``stream`` listens to the streaming API for ``obsync run``.
"""
