"""The read side over HTTP, served by the ``tasks`` consumer process: ``GET /tasks[/{id}]`` and
``GET /assets[/{id}]``."""

from aiohttp import web
from pydantic import ValidationError

from taskhook.core.delivery import describe_problems, summarize_problems
from taskhook.http.problems import problem
from taskhook.tasks.store import SchemaMissing, TaskStore
from taskhook.tasks.views import AssetQuery, TaskQuery, asset_view, task_view


def read_routes(store: TaskStore) -> list[web.RouteDef]:
    """``GET /tasks?phase=&type=&limit=&offset=`` and ``GET /tasks/{id}``, read-only JSON."""

    async def list_tasks(request: web.Request) -> web.Response:
        query = request.query
        try:
            task_query = TaskQuery.model_validate(
                {
                    "phase": query.getall("phase", []),
                    "type": query.getall("type", []),
                    **{name: query[name] for name in ("limit", "offset") if name in query},
                }
            )
        except ValidationError as e:
            return problem("invalid-query", summarize_problems(describe_problems(e)))
        try:
            rows = await store.find(task_query)
        except SchemaMissing as e:
            return problem("not-ready", str(e))
        return web.json_response(
            {
                "tasks": [task_view(row) for row in rows],
                "limit": task_query.limit,
                "offset": task_query.offset,
            }
        )

    async def show_task(request: web.Request) -> web.Response:
        try:
            row = await store.get(request.match_info["task_id"])
        except SchemaMissing as e:
            return problem("not-ready", str(e))
        if row is None:
            return problem("not-found", "no task with this id has been recorded")
        return web.json_response(task_view(row))

    return [
        web.get("/tasks", list_tasks),
        web.get("/tasks/{task_id}", show_task),
        *asset_routes(store),
    ]


def asset_routes(store: TaskStore) -> list[web.RouteDef]:
    """``GET /assets?phase=&playbackId=&limit=&offset=`` and ``GET /assets/{id}``."""

    async def list_assets(request: web.Request) -> web.Response:
        query = request.query
        try:
            asset_query = AssetQuery.model_validate(
                {
                    "phase": query.getall("phase", []),
                    **{name: query[name] for name in ("limit", "offset") if name in query},
                    **({"playback_id": query["playbackId"]} if "playbackId" in query else {}),
                }
            )
        except ValidationError as e:
            return problem("invalid-query", summarize_problems(describe_problems(e)))
        try:
            rows = await store.find_assets(asset_query)
        except SchemaMissing as e:
            return problem("not-ready", str(e))
        return web.json_response(
            {
                "assets": [asset_view(row) for row in rows],
                "limit": asset_query.limit,
                "offset": asset_query.offset,
            }
        )

    async def show_asset(request: web.Request) -> web.Response:
        try:
            row = await store.get_asset(request.match_info["asset_id"])
        except SchemaMissing as e:
            return problem("not-ready", str(e))
        if row is None:
            return problem("not-found", "no asset with this id has been recorded")
        return web.json_response(asset_view(row))

    return [web.get("/assets", list_assets), web.get("/assets/{asset_id}", show_asset)]
