"""gunicorn's settings for Sutong's web nodes: ``gunicorn -c config/gunicorn.conf.py config.wsgi``.

Every knob comes from the environment, with defaults measured on two cores (bench/RESULTS.md).
Sync workers: a request is CPU work in Python plus a few short PostgreSQL round trips, so
two workers per core keep the cores busy while one waits on the database, without the
memory of more. Each worker holds its own persistent database connection (CONN_MAX_AGE).
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count()))
worker_class = "sync"
# Behind a load balancer connections are reused; keep them open a little longer than the
# balancer's idle timeout would close them on its side.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 5))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 20
# Recycle a worker now and then so that a slow leak can never grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 20000))
max_requests_jitter = max_requests // 10
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
# Paths carry secrets (the private tracking link /track/<code>/<secret>/, survey links) and
# query strings may carry a token or an e-mail address: this logger masks each value of the
# access-log format (and the error log) as Django's logs are masked (ops.logfilter).
logger_class = "ops.logfilter.GunicornLogger"
control_socket_disable = True
