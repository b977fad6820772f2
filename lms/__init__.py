"""Consortium LMS: the application factory."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    """Build the app: config, extensions, blueprints, CLI, errors, security headers."""
    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    from lms.config import load_config

    app.config.update(load_config(Path(app.instance_path)))
    if config:
        app.config.update(config)
    configure_extensions(app)
    configure_blueprints(app)
    configure_cli(app)
    from lms.core import web
    from lms.skills.service import connect_signals

    web.init_app(app)
    connect_signals()
    from lms.certificates.service import connect_signals as connect_certificates

    connect_certificates()
    from lms.transcripts.service import connect_signals as connect_transcripts

    connect_transcripts()
    return app


def configure_extensions(app: Flask) -> None:
    from lms import models  # noqa: F401  (register every model with the metadata)
    from lms.extensions import babel, csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    with app.app_context():
        _configure_sqlite(db.engine)
    csrf.init_app(app)
    limiter.init_app(app)
    from lms.core.i18n import select_locale, select_timezone

    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    from lms.auth import session as auth_session

    auth_session.init_app(app, login_manager)


def configure_blueprints(app: Flask) -> None:
    from lms.audit.views import bp as audit_bp
    from lms.auth.views import bp as auth_bp
    from lms.authoring.views import bp as authoring_bp
    from lms.certificates.design_views import bp as certificate_designs_bp
    from lms.certificates.views import bp as certificates_bp
    from lms.core.views import bp as core_bp
    from lms.courses.views import bp as courses_bp
    from lms.jobs.views import bp as jobs_bp
    from lms.learning.admin_views import bp as assignments_bp
    from lms.learning.views import bp as learning_bp
    from lms.skills.admin_views import bp as taxonomy_bp
    from lms.skills.views import bp as skills_bp
    from lms.tenancy.views import bp as tenancy_bp

    for bp in (core_bp, auth_bp, tenancy_bp, audit_bp, courses_bp, learning_bp, assignments_bp):
        app.register_blueprint(bp)
    app.register_blueprint(authoring_bp)
    app.register_blueprint(jobs_bp)
    app.register_blueprint(skills_bp)
    app.register_blueprint(certificates_bp)
    app.register_blueprint(certificate_designs_bp)
    app.register_blueprint(taxonomy_bp)
    from lms.notifications.views import bp as notifications_bp

    app.register_blueprint(notifications_bp)
    from lms.reports.views import bp as reports_bp

    app.register_blueprint(reports_bp)
    from lms.reports.monthly_views import bp as monthly_reports_bp

    app.register_blueprint(monthly_reports_bp)
    from lms.transcripts.views import bp as transcripts_bp

    app.register_blueprint(transcripts_bp)
    from lms.reports.course_views import bp as course_reports_bp

    app.register_blueprint(course_reports_bp)


def configure_cli(app: Flask) -> None:
    from lms.auth.cli import accounts_cli
    from lms.courses.cli import courses_cli
    from lms.demo.cli import demo_cli
    from lms.skills.cli import recommend_cli, skills_cli

    for group in (accounts_cli, courses_cli, demo_cli, skills_cli, recommend_cli):
        app.cli.add_command(group)
    from lms.certificates.cli import certificates_cli

    app.cli.add_command(certificates_cli)
    from lms.notifications.cli import notifications_cli

    app.cli.add_command(notifications_cli)
    from lms.reports.cli import reports_cli

    app.cli.add_command(reports_cli)


def _configure_sqlite(engine) -> None:
    """Foreign keys on, and real transactions (savepoints work) with the sqlite3 driver."""
    from sqlalchemy import event

    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    @event.listens_for(engine, "begin")
    def on_begin(conn):
        conn.exec_driver_sql("BEGIN")
