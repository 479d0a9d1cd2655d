"""``taskhook console``: pages for people who operate taskhook and the teams downstream of it.

Server-rendered (Jinja2 templates in ``templates/``, one stylesheet and one small script in
``static/``), on a port of its own. It reads the tasks store through its own reading API and the
broker through the operator tools (``taskhook.tools``): it has no way of its own to read either.
"""
