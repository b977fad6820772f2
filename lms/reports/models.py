"""Summary tables of the dashboards, refreshed incrementally (lms/reports/summary.py).

They hold every event before `ReportState.summarised_until`; what came after is counted live
from the source tables, which stays cheap because a refresh (hourly or daily from cron) keeps
that span short. A refresh recomputes only the month it left off in and those after it.
Months are integers yyyymm in the configured time zone (Asia/Shanghai by default).
Firm 0 stands for "no firm" in the event tables, and for "any firm" in ReportWorker.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lms.core.types import UTCDateTime, utcnow
from lms.extensions import db


class _Counts:
    """The counters every event summary has."""

    enrolled: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    certificates: Mapped[int] = mapped_column(Integer, default=0)
    hours: Mapped[float] = mapped_column(Float, default=0)


class ReportCube(_Counts, db.Model):
    """Events of one firm and course in one month: enrolments made, completions,
    certificates issued, training hours credited."""

    __tablename__ = "report_cube"

    id: Mapped[int] = mapped_column(primary_key=True)
    consortium_id: Mapped[int] = mapped_column(ForeignKey("consortia.id"))
    month: Mapped[int] = mapped_column(Integer)
    firm_id: Mapped[int] = mapped_column(Integer)
    course_id: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("consortium_id", "month", "firm_id", "course_id", name="uq_report_cube"),
        # One firm's slice (the firm dashboard and the firm filter).
        Index("ix_report_cube_firm", "consortium_id", "firm_id", "month"),
    )

    def __repr__(self) -> str:
        return f"<ReportCube {self.month} firm {self.firm_id} course {self.course_id}>"


class ReportFirmMonth(_Counts, db.Model):
    """ReportCube summed over courses: what the consortium-wide headline, by-firm and by-month
    figures read when no course filter is set (a few hundred rows instead of the cube)."""

    __tablename__ = "report_firm_months"

    id: Mapped[int] = mapped_column(primary_key=True)
    consortium_id: Mapped[int] = mapped_column(ForeignKey("consortia.id"))
    month: Mapped[int] = mapped_column(Integer)
    firm_id: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("consortium_id", "month", "firm_id", name="uq_report_firm_months"),
    )

    def __repr__(self) -> str:
        return f"<ReportFirmMonth {self.month} firm {self.firm_id}>"


class ReportCourseMonth(_Counts, db.Model):
    """ReportCube summed over firms: the by-course figures when no firm filter is set."""

    __tablename__ = "report_course_months"

    id: Mapped[int] = mapped_column(primary_key=True)
    consortium_id: Mapped[int] = mapped_column(ForeignKey("consortia.id"))
    month: Mapped[int] = mapped_column(Integer)
    course_id: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("consortium_id", "month", "course_id", name="uq_report_course_months"),
    )

    def __repr__(self) -> str:
        return f"<ReportCourseMonth {self.month} course {self.course_id}>"


class ReportSkillMonth(db.Model):
    """Verified skill-level rises of one firm's workers in one skill and month."""

    __tablename__ = "report_skill_months"

    id: Mapped[int] = mapped_column(primary_key=True)
    consortium_id: Mapped[int] = mapped_column(ForeignKey("consortia.id"))
    month: Mapped[int] = mapped_column(Integer)
    firm_id: Mapped[int] = mapped_column(Integer)
    skill_id: Mapped[str] = mapped_column(String(80))
    raises: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        UniqueConstraint(
            "consortium_id", "month", "firm_id", "skill_id", name="uq_report_skill_months"
        ),
    )

    def __repr__(self) -> str:
        return f"<ReportSkillMonth {self.month} firm {self.firm_id} {self.skill_id}>"


class ReportWorker(db.Model):
    """One worker in one firm (firm 0: in any firm of the consortium), for a two-year window
    ending with `year`: bit m−1 of `*_months` for month m of the year before, bit 11+m for
    month m of `year`. `enrolled_months` marks the months in which they enrolled in something,
    `raised_months` those in which a verified skill level of theirs rose. So "how many
    different workers" over any run of months within two calendar years is a count of rows,
    with no DISTINCT over every enrolment."""

    __tablename__ = "report_workers"

    id: Mapped[int] = mapped_column(primary_key=True)
    consortium_id: Mapped[int] = mapped_column(ForeignKey("consortia.id"))
    year: Mapped[int] = mapped_column(Integer)
    firm_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(Integer)
    enrolled_months: Mapped[int] = mapped_column(Integer, default=0)
    raised_months: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        UniqueConstraint("consortium_id", "year", "firm_id", "user_id", name="uq_report_workers"),
        # The counts read this index alone (PostgreSQL: an index-only scan once vacuumed).
        Index(
            "ix_report_workers_counts",
            "consortium_id",
            "year",
            "firm_id",
            postgresql_include=["enrolled_months", "raised_months"],
        ),
    )

    def __repr__(self) -> str:
        return f"<ReportWorker {self.year} firm {self.firm_id} user {self.user_id}>"


class ReportState(db.Model):
    """How far the summaries of a consortium reach: every event before `summarised_until`."""

    __tablename__ = "report_state"

    consortium_id: Mapped[int] = mapped_column(ForeignKey("consortia.id"), primary_key=True)
    summarised_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<ReportState {self.consortium_id} until {self.summarised_until}>"


class ReportSubscription(db.Model):
    """A consortium admin who asked to get the monthly pilot report (lms/reports/monthly.py)
    in the app and by e-mail; sent only while they still hold report.view there."""

    __tablename__ = "report_subscriptions"

    consortium_id: Mapped[int] = mapped_column(ForeignKey("consortia.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<ReportSubscription consortium {self.consortium_id} user {self.user_id}>"


class MonthlyReport(db.Model):
    """The monthly pilot report of one consortium and month as it was computed
    (lms/reports/approval.py): the report's data in each language (`contexts`: locale → the
    plain dict the page and the PDF are drawn from). A draft is what an admin is about to
    approve; once approved it is final: the page and the PDF of that month come from here,
    and the signed PDF of each language is rendered once and kept in storage (`pdf_paths`)."""

    __tablename__ = "monthly_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    consortium_id: Mapped[int] = mapped_column(ForeignKey("consortia.id"))
    month: Mapped[int] = mapped_column(Integer)  # yyyymm
    status: Mapped[str] = mapped_column(String(10), default="draft")  # draft | approved
    contexts: Mapped[dict] = mapped_column(JSON, default=dict)
    digest: Mapped[str] = mapped_column(String(64))  # of the figures, not of the charts
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    computed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approver_name: Mapped[str | None] = mapped_column(String(80))  # as it was then
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    seal_path: Mapped[str | None] = mapped_column(String(300))  # the seal it was approved with
    pdf_paths: Mapped[dict] = mapped_column(JSON, default=dict)  # locale → storage key

    __table_args__ = (UniqueConstraint("consortium_id", "month", name="uq_monthly_reports_month"),)

    @property
    def is_approved(self) -> bool:
        return self.status == "approved"

    def __repr__(self) -> str:
        return f"<MonthlyReport {self.consortium_id} {self.month} {self.status}>"


class MonthlyReportSetting(db.Model):
    """A consortium's settings of the monthly report: the seal image printed on approved
    reports (a PNG or JPEG in storage under monthly-reports/<consortium>/)."""

    __tablename__ = "monthly_report_settings"

    consortium_id: Mapped[int] = mapped_column(ForeignKey("consortia.id"), primary_key=True)
    seal_path: Mapped[str | None] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    def __repr__(self) -> str:
        return f"<MonthlyReportSetting {self.consortium_id}>"
