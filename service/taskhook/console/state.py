"""What the console's handlers find in the app: the tasks store and the broker view."""

from aiohttp import web

from taskhook.console.broker import BrokerView
from taskhook.tasks.store import TaskStore

STORE = web.AppKey("store", TaskStore)
BROKER = web.AppKey("broker", BrokerView)
