"""The read side over HTTP, served by the ``tasks`` consumer process: ``GET /tasks[/{id}]`` and
``GET /assets[/{id}]``.

Both collections are read the same way (a filtered, paged list and one record by id, each
error a problem answer), so one pair of handlers serves both; a ``Collection`` says what differs:
which filters the query string has, how the store finds and gets, and how a row is shown.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from aiohttp import web
from multidict import MultiMapping
from pydantic import ValidationError

from taskhook.core.delivery import describe_problems, summarize_problems
from taskhook.http.problems import problem
from taskhook.tasks.store import SchemaMissing, TaskStore
from taskhook.tasks.views import AssetQuery, TaskQuery, asset_view, task_view

Row = dict[str, Any]


class Paged(Protocol):
    """A validated list query: the page it asks for."""

    @property
    def limit(self) -> int: ...

    @property
    def offset(self) -> int: ...


QueryT = TypeVar("QueryT", bound=Paged)


@dataclass(frozen=True, slots=True)
class Collection(Generic[QueryT]):
    """What ``GET /{name}`` and ``GET /{name}/{id}`` read and how they show it.

    ``filters`` turns the query string into the query model's filter fields; ``validate`` builds
    the model from those and the page (raising pydantic's ``ValidationError``).
    """

    name: str  # the path and the list's key
    noun: str  # one of them, as the 404 names it
    filters: Callable[[MultiMapping[str]], dict[str, Any]]
    validate: Callable[[dict[str, Any]], QueryT]
    find: Callable[[QueryT], Awaitable[list[Row]]]
    get: Callable[[str], Awaitable[Row | None]]
    view: Callable[[Row], dict[str, Any]]


def read_routes(store: TaskStore) -> list[web.RouteDef]:
    """``GET /tasks?phase=&type=&limit=&offset=``, ``GET /tasks/{id}``,
    ``GET /assets?phase=&playbackId=&limit=&offset=`` and ``GET /assets/{id}``, read-only JSON."""
    tasks = Collection(
        "tasks", "task", _task_filters, TaskQuery.model_validate, store.find, store.get, task_view
    )
    assets = Collection(
        "assets",
        "asset",
        _asset_filters,
        AssetQuery.model_validate,
        store.find_assets,
        store.get_asset,
        asset_view,
    )
    return [*collection_routes(tasks), *collection_routes(assets)]


def collection_routes(collection: Collection[QueryT]) -> list[web.RouteDef]:
    """``GET /{name}`` (the filtered page, newest first) and ``GET /{name}/{id}`` (one record,
    or a not-found problem); a store without its schema yet answers not-ready."""
    id_key = f"{collection.noun}_id"

    async def list_records(request: web.Request) -> web.Response:
        query = request.query
        paging = {name: query[name] for name in ("limit", "offset") if name in query}
        try:
            page = collection.validate({**collection.filters(query), **paging})
        except ValidationError as e:
            return problem("invalid-query", summarize_problems(describe_problems(e)))
        try:
            rows = await collection.find(page)
        except SchemaMissing as e:
            return problem("not-ready", str(e))
        return web.json_response(
            {
                collection.name: [collection.view(row) for row in rows],
                "limit": page.limit,
                "offset": page.offset,
            }
        )

    async def show_record(request: web.Request) -> web.Response:
        try:
            row = await collection.get(request.match_info[id_key])
        except SchemaMissing as e:
            return problem("not-ready", str(e))
        if row is None:
            return problem("not-found", f"no {collection.noun} with this id has been recorded")
        return web.json_response(collection.view(row))

    return [
        web.get(f"/{collection.name}", list_records),
        web.get(f"/{collection.name}/{{{id_key}}}", show_record),
    ]


def _task_filters(query: MultiMapping[str]) -> dict[str, Any]:
    return {"phase": query.getall("phase", []), "type": query.getall("type", [])}


def _asset_filters(query: MultiMapping[str]) -> dict[str, Any]:
    # One asset by its playback id: a single value, under Livepeer's camelCase name.
    playback = {"playback_id": query["playbackId"]} if "playbackId" in query else {}
    return {"phase": query.getall("phase", []), **playback}
