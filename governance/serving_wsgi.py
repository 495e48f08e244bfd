"""The serving process: `gunicorn governance.serving_wsgi -k gthread --threads 8 -w 1 -b 0.0.0.0:8100`.

It answers `POST /api/serve/<model>/<environment>/predict/` (and `/healthz`) only, keeps the served models in
memory (governance/serving/runtime.py) and runs two threads: the poller, which loads a newly deployed version
and forgets a retired one within SERVING_POLL_S, and the flusher, which writes the decision log's queue to
PostgreSQL every SERVING_FLUSH_INTERVAL_S. Start it without `--preload` (each worker starts its own threads).
The same endpoint is also routed in the web process (governance.urls), which loads models on first use.
"""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings.demo")
application = get_wsgi_application()
settings.ROOT_URLCONF = "governance.serving.process_urls"

from governance.serving.runtime import background_threads_start, torch_threads_set  # noqa: E402  (needs Django)

torch_threads_set(settings.SERVING_TORCH_THREADS)
background_threads_start()
