"""Flask extensions, created once and bound to each app in create_app."""

from typing import TYPE_CHECKING

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import DDL, MetaData, event
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def same_database(dialect_name: str):
    """Alembic's include_object for a database of this dialect: schema objects that the models
    create on another database only (`.ddl_if(dialect=…)`, the PostgreSQL search indexes) are left
    out of the comparison, as create_all leaves them out."""

    def include(obj, _name, _type, _reflected, _compare_to) -> bool:
        condition = getattr(obj, "_ddl_if", None)
        return condition is None or condition.dialect in (None, dialect_name)

    return include


# The search indexes (models/requests.py, models/partners.py) use trigrams next to a plain column:
# two extensions of PostgreSQL's contrib, "trusted" (a database owner may create them). The
# migrations create them too; this is for metadata.create_all (the tests).
for _extension in ("pg_trgm", "btree_gin"):
    event.listen(
        Base.metadata,
        "before_create",
        DDL(f"CREATE EXTENSION IF NOT EXISTS {_extension}").execute_if(dialect="postgresql"),
    )


db = SQLAlchemy(model_class=Base)
# The models' base class. At run time it is db.Model, which Flask-SQLAlchemy builds from Base (adding
# its query property and bind key); a type checker cannot follow that dynamic class, so for it
# Model is spelled out as the same two bases.
if TYPE_CHECKING:
    from flask_sqlalchemy.model import Model as FlaskModel

    class Model(FlaskModel, Base):
        __abstract__ = True
else:
    Model = db.Model
migrate = Migrate()
login_manager = LoginManager()
mail = Mail()
csrf = CSRFProtect()
babel = Babel()
# Per-IP limits on login and password reset; storage from RATELIMIT_STORAGE_URI (Redis in production).
limiter = Limiter(key_func=get_remote_address)
