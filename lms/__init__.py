"""Consortium LMS: the application factory."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from lms.config import PROJECT_ROOT, load_config


def create_app(config: dict | None = None) -> Flask:
    """Build the app: config, extensions, blueprints, CLI, errors, security headers."""
    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(load_config(Path(app.instance_path)))
    if config:
        app.config.update(config)
    configure_extensions(app)
    configure_blueprints(app)
    configure_cli(app)
    from lms.core import web

    web.init_app(app)
    configure_templates(app)
    configure_jobs(app)
    configure_signals()
    configure_proxy(app)
    return app


def configure_proxy(app: Flask) -> None:
    """Behind LMS_PROXY_HOPS reverse proxies (nginx, a load balancer), take the client's address
    and scheme from the X-Forwarded-For/-Proto headers they set: rate limits count per client,
    not per proxy. The Host header is the proxy's to pass on (X-Forwarded-Host is not trusted)."""
    raw = os.environ.get("LMS_PROXY_HOPS", "").strip() or "0"
    if not raw.isdigit():
        raise RuntimeError(f"LMS_PROXY_HOPS must be the number of proxies in front, not {raw!r}")
    if hops := int(raw):
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def configure_templates(app: Flask) -> None:
    """Helpers every template may use, from the domains that own them."""
    from flask_login import current_user

    from lms.auth.service import SESSION_FIGURES, session_figure
    from lms.home.navigation import navigation
    from lms.notifications.reminders import reminded_today
    from lms.notifications.service import unread_count, unread_count_column
    from lms.permissions import has_permission
    from lms.taxonomy.models import level_name
    from lms.taxonomy.service import skill_name
    from lms.tenancy import labels

    def can(permission, target=None) -> bool:
        return has_permission(current_user, permission, target)

    SESSION_FIGURES["unread"] = unread_count_column

    def unread_notifications() -> int:
        """The top bar's badge, for signed-in users only: counted with the session."""
        if not (current_user and current_user.is_authenticated):
            return 0
        count = session_figure("unread")
        return unread_count(current_user) if count is None else count

    app.jinja_env.globals.update(
        can=can,
        navigation=navigation,  # the menus and tab bar of base.html
        level_name=level_name,
        skill_name=skill_name,
        unread_notifications=unread_notifications,
        reminded_today=reminded_today,  # for the enrolment lists of learning
        ROLE_LABELS=labels.ROLE_LABELS,
        FIRM_KIND_LABELS=labels.FIRM_KIND_LABELS,
        REGION_LABELS=labels.REGION_LABELS,
        SECTOR_LABELS=labels.SECTOR_LABELS,
    )


def configure_jobs(app: Flask) -> None:
    """Everything that runs in the background, by kind (lms.jobs names no domain above it)."""
    from lms.certificates import service as certificates
    from lms.certificates.bulk import bulk_job
    from lms.certificates.lifecycle import lifecycle_job
    from lms.jobs.exports import JOB_KIND as EXPORTS
    from lms.jobs.exports import export_job
    from lms.jobs.service import register_job, register_task
    from lms.notifications.reminders import reminders_job
    from lms.notifications.service import email_job
    from lms.reports.approval import JOB_KIND as MONTHLY_PDF
    from lms.reports.approval import pdf_job as monthly_pdf_job
    from lms.reports.monthly import monthly_job
    from lms.reports.summary import refresh_job
    from lms.skills import recommendations
    from lms.skills.recommendations import recompute_job

    for kind, function in (
        ("recommendations", recompute_job),
        ("certificates.lifecycle", lifecycle_job),
        ("certificates.bulk", bulk_job),
        ("notifications.email", email_job),
        ("notifications.reminders", reminders_job),
        (EXPORTS, export_job),
        ("reports.refresh", refresh_job),
        ("reports.monthly", monthly_job),
        (MONTHLY_PDF, monthly_pdf_job),
    ):
        register_job(kind, function)
    for name, function in (
        (certificates.RENDER_TASK, certificates.render_task),
        (certificates.REVOCATION_TASK, certificates.revocation_task),
        (certificates.SWEEP_TASK, certificates.render_missing),
        (recommendations.REFRESH_TASK, recommendations.refresh_task),
    ):
        register_task(name, function)
    from lms.jobs import service as jobs

    jobs.init_app(app)


def configure_signals() -> None:
    """News travels up the layers: the domains above subscribe to the signals of those below."""
    from lms.certificates.service import connect_signals as connect_certificates
    from lms.courses.service import connect_signals as connect_courses
    from lms.learning.service import connect_signals as connect_learning
    from lms.notifications.events import connect_signals as connect_notifications
    from lms.skills.service import connect_signals as connect_skills
    from lms.transcripts.service import connect_signals as connect_transcripts

    for connect in (
        connect_courses,
        connect_learning,
        connect_skills,
        connect_notifications,
        connect_certificates,
        connect_transcripts,
    ):
        connect()


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
    from lms.auth.views import bp as auth_bp
    from lms.certificates.design_views import bp as certificate_designs_bp
    from lms.certificates.views import bp as certificates_bp
    from lms.core.views import bp as core_bp
    from lms.courses.assessor_views import bp as assessors_bp
    from lms.courses.authoring_views import bp as authoring_bp
    from lms.home.views import bp as home_bp
    from lms.jobs.views import bp as jobs_bp
    from lms.learning.admin_views import bp as assignments_bp
    from lms.learning.catalogue_views import bp as courses_bp
    from lms.learning.views import bp as learning_bp
    from lms.notifications.views import bp as notifications_bp
    from lms.reports.audit_views import bp as audit_bp
    from lms.reports.course_views import bp as course_reports_bp
    from lms.reports.monthly_views import bp as monthly_reports_bp
    from lms.reports.views import bp as reports_bp
    from lms.skills.admin_views import bp as taxonomy_bp
    from lms.skills.views import bp as skills_bp
    from lms.tenancy.invitation_views import bp as invitations_bp
    from lms.tenancy.views import bp as tenancy_bp
    from lms.transcripts.views import bp as transcripts_bp

    for bp in (
        home_bp,
        core_bp,
        auth_bp,
        tenancy_bp,
        invitations_bp,
        audit_bp,
        courses_bp,
        learning_bp,
        assignments_bp,
        authoring_bp,
        assessors_bp,
        jobs_bp,
        skills_bp,
        certificates_bp,
        certificate_designs_bp,
        taxonomy_bp,
        notifications_bp,
        reports_bp,
        monthly_reports_bp,
        transcripts_bp,
        course_reports_bp,
    ):
        app.register_blueprint(bp)


def configure_cli(app: Flask) -> None:
    from lms.auth.cli import accounts_cli
    from lms.courses.cli import courses_cli
    from lms.demo.cli import demo_cli
    from lms.jobs.cli import jobs_cli
    from lms.ops.cli import ops_cli
    from lms.skills.cli import recommend_cli, skills_cli

    for group in (
        accounts_cli,
        courses_cli,
        demo_cli,
        jobs_cli,
        ops_cli,
        skills_cli,
        recommend_cli,
    ):
        app.cli.add_command(group)
    from lms.certificates.cli import certificates_cli

    app.cli.add_command(certificates_cli)
    from lms.notifications.cli import notifications_cli

    app.cli.add_command(notifications_cli)
    from lms.reports.cli import reports_cli

    app.cli.add_command(reports_cli)


# How long a SQLite transaction waits for another one's write lock before "database is locked".
SQLITE_BUSY_MS = 30_000


def _configure_sqlite(engine) -> None:
    """Foreign keys on, and real transactions (savepoints work) with the sqlite3 driver.

    Concurrent requests on the embedded SQLite file wait for each other instead of failing:
    WAL lets readers go on while one transaction writes; every transaction takes the write
    lock when it begins (BEGIN IMMEDIATE), waiting up to SQLITE_BUSY_MS for it, because a
    transaction that read first and then writes cannot wait: SQLite fails it at once ("database
    is locked") when another one wrote meanwhile. A sign-in during an import waits for it."""
    from sqlalchemy import event

    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys=ON")
        dbapi_connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        if engine.url.database not in (None, "", ":memory:"):
            dbapi_connection.execute("PRAGMA journal_mode=WAL")

    @event.listens_for(engine, "begin")
    def on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
