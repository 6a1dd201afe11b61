"""The peer's WSGI entry point, for gunicorn: ``gunicorn wsgi:application`` in this folder."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
application = get_wsgi_application()
