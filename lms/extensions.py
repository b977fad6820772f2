"""Unbound extensions; create_app() binds them."""

from contextvars import ContextVar

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, Select
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


# Inside `reading_replica()` (lms.core.replica), plain SELECTs go to the "reports" bind, a
# PostgreSQL replica named by LMS_REPORTS_DATABASE_URL; writes, and every read outside it, go to
# the primary. Without that setting everything goes to the primary.
READ_REPLICA: ContextVar[bool] = ContextVar("lms_read_replica", default=False)
REPLICA_BIND = "reports"


class RoutingSession(FlaskSession):
    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if (
            bind is None
            and READ_REPLICA.get()
            and not self._flushing
            and isinstance(clause, Select)
            and REPLICA_BIND in self._db.engines
        ):
            return self._db.engines[REPLICA_BIND]
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


db = SQLAlchemy(model_class=Base, session_options={"class_": RoutingSession})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
