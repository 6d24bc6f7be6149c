"""What gunicorn serves: `gunicorn wsgi:app`."""

import gc

from backoffice import create_app
from config import config_from_env

app = create_app(config_from_env())

# The app, its views, mappers and templates live as long as the worker: move them out of the
# garbage collector's generations so its passes stop rescanning them during every request.
gc.collect()
gc.freeze()
