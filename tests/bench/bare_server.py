"""The HTTP ceiling: aiohttp on uvloop reading the body and answering 204, nothing else."""

import argparse

import uvloop
from aiohttp import web


async def swallow(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(status=204)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    app = web.Application()
    app.router.add_post("/webhooks/livepeer", swallow)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
