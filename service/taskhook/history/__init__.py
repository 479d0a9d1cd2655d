"""Every event kept and findable: the archive stream, the event index, and replay.

The read API that ``taskhook history``, ``taskhook replay --archive`` and the web console share:

- ``taskhook.history.query``: ``EventQuery`` (what to find) and ``IndexedEvent`` (one row of the
  index), plain data, no I/O; ``index_row`` builds a row from a handled event.
- ``taskhook.history.index``: ``EventIndex.find(query) -> list[IndexedEvent]`` and ``oldest()``
  over the tasks consumer's database (``TaskStore.events``), which also writes and prunes it.
- ``taskhook.history.archive``: ``ArchiveReader.read(since_ms, until_ms)`` yields each archived
  message (its body as published, headers, routing key, stream offset) from a point in time, and
  ``ArchiveReader.body_of(event)`` fetches one indexed event's published body.
- ``taskhook.history.replay``: ``ReplayWindow``, ``matching(reader, window)`` (what a dry run
  lists and counts) and ``replay_window(...)``, which republishes a window to one consumer's
  queue, confirmed one by one.

``history.show`` and ``history.replaying`` are the two commands' printing, over the same API.
"""
