"""What gunicorn serves: `gunicorn wsgi:app`."""
from backoffice import create_app
from config import config_from_env

app = create_app(config_from_env())
