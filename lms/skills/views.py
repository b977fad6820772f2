"""Skills pages: a worker's skills, gaps, recommendations and learning path; a firm's and a
consortium's gaps; a firm admin's view of one worker (rating, job role, assigning a path)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from lms.core.access import signed_in
from lms.core.forms import choices
from lms.core.i18n import ui_locale
from lms.core.pagination import paginate_list
from lms.extensions import db
from lms.jobs.exports import csv_response
from lms.jobs.service import start_job
from lms.learning import service as learning
from lms.permissions import has_permission, needs
from lms.skills import gaps as gap_service
from lms.skills import recommendations, service
from lms.skills.profile_forms import (
    JobRoleForm,
    PathForm,
    SkillLevelForm,
    TargetRoleForm,
    level_choices,
)
from lms.taxonomy import service as taxonomy
from lms.taxonomy.models import LEVEL_NAMES, JobRole, Skill, level_name
from lms.tenancy.scope import current_scope

bp = Blueprint("skills", __name__)
# The gap pages show the top gaps, this many a page (the CSV export has every row), and the
# gaps no course closes up to this many.
GAP_PAGE_SIZE = 20
UNCOVERED_SHOWN = 10


def _skill_options(locale: str, consortium_id: int, stamp: int | None = None):
    skills = recommendations.catalogue(consortium_id, stamp).visible_skills(consortium_id)
    return choices([("", _l("Choose a skill"))] + [(s.id, s.name(locale)) for s in skills])


def bar_spec(rows, locale: str, *, with_target: bool) -> dict:
    """The chart of held and required levels per skill (the table beside it has the same)."""
    shown = [r for r in rows if r.current or r.target][:15]
    series = [
        {"name": str(_l("Verified level")), "data": [r.held for r in shown]},
        {"name": str(_l("Current role requires")), "data": [r.current for r in shown]},
    ]
    if with_target:
        series.append({"name": str(_l("Target role requires")), "data": [r.target for r in shown]})
    return {
        "type": "bar",
        "horizontal": True,
        "categories": [r.skill.name(locale) for r in shown],
        "series": series,
        "max": 5,
        "levelLabels": {str(n): level_name(n, locale) for n in LEVEL_NAMES},
    }


def _profile(user, roles, locale: str, *, completed: set[str] | None = None) -> dict:
    """What the worker's page and their firm admin's view of them both show; `completed`: the
    slugs of the courses the worker completed, when the caller has them."""
    cat = recommendations.catalogue(
        roles.consortium_id, recommendations.stamp_of(user, roles.consortium_id)
    )
    rows = gap_service.skill_rows(user, roles, skills=cat.skills)
    held = {r.skill.id: r.held for r in rows if r.held}
    paths = recommendations.paths_for(
        user.id,
        roles.consortium_id,
        [*([roles.target] if roles.target else []), *roles.current],
        held,
        stamp=cat.stamp,
        completed=completed,
    )
    return {
        "rows": rows,
        "roles": roles,
        "spec": bar_spec(rows, locale, with_target=roles.target is not None),
        "paths": paths,
        "skills": cat.skills,
        "locale": locale,
    }


# --- the worker ----------------------------------------------------------------------------


@bp.route("/skills", methods=["GET", "POST"])
@signed_in
def my_skills():
    locale = ui_locale()
    roles = gap_service.worker_roles(current_user, with_requirements=True)
    if roles.consortium_id is None:
        return render_template("skills/my_skills.html", roles=roles, rows=[], recs=None)
    target_form = TargetRoleForm(prefix="target")
    target_form.target_role.choices = choices(
        [("", _l("— no goal yet —"))]
        + taxonomy.role_options(roles.consortium_id, roles.firm_ids[0])
    )
    level_form = SkillLevelForm(prefix="self")
    stamp = recommendations.stamp_of(current_user, roles.consortium_id)
    level_form.skill.choices = _skill_options(locale, roles.consortium_id, stamp)
    level_form.level.choices = level_choices(locale)
    if target_form.save_target.data and target_form.validate_on_submit():
        try:
            service.set_target_role(
                current_user,
                target_form.target_role.data or None,
                consortium_id=roles.consortium_id,
                firm_id=roles.firm_ids[0],
            )
        except taxonomy.TaxonomyError:
            db.session.rollback()
            target_form.target_role.errors.append(_l("Choose a job role from the list."))
        else:
            db.session.commit()
            flash(_l("Your goal is saved."), "success")
            return redirect(url_for("skills.my_skills"))
    elif level_form.save_level.data and level_form.validate_on_submit():
        service.record_self_assessment(
            current_user,
            level_form.skill.data,
            int(level_form.level.data),
            level_form.note.data or "",
        )
        db.session.commit()
        flash(_l("Your self-assessment is saved. It shows as unverified."), "success")
        return redirect(url_for("skills.my_skills"))
    elif request.method == "GET":
        target_form.target_role.data = current_user.target_role_id or ""
    have = recommendations.taken(current_user.id, roles.consortium_id)
    recs = recommendations.for_worker(current_user, roles.consortium_id, locale, have=have)
    return render_template(
        "skills/my_skills.html",
        target_form=target_form,
        level_form=level_form,
        recs=recs,
        **_profile(current_user, roles, locale, completed=have.completed_slugs),
    )


@bp.get("/skills/<skill_id>")
@signed_in
def my_skill(skill_id: str):
    skill = current_scope().get(Skill, id=skill_id)
    profile = service.skill_profile(current_user.id).get(skill_id)
    return render_template(
        "skills/skill_history.html",
        skill=skill,
        entry=profile or {"level": 0, "self": 0, "history": []},
        person=None,
    )


@bp.route("/skills/path", methods=["GET", "POST"])
@signed_in
def my_path():
    locale = ui_locale()
    roles = gap_service.worker_roles(current_user)
    if roles.consortium_id is None:
        return redirect(url_for("skills.my_skills"))
    profile = _profile(current_user, roles, locale)
    steps = {
        p.role.id: recommendations.path_steps(current_user.id, roles.consortium_id, p)
        for p in profile["paths"]
    }
    open_paths = [p for p in profile["paths"] if any(s.state == "ready" for s in steps[p.role.id])]
    form = PathForm()
    # A repeated submit names a path with nothing left to enrol: it is still a valid choice.
    offered = open_paths
    if request.method == "POST":
        offered = [p for p in profile["paths"] if p.versions]
    form.role.choices = choices((p.role.id, p.role.name(locale)) for p in offered)
    del form.due_on
    if form.validate_on_submit():
        path = next(p for p in profile["paths"] if p.role.id == form.role.data)
        outcome = recommendations.enroll_in_path(current_user, roles.consortium_id, path)
        db.session.commit()
        _flash_path_enrolment(outcome, locale)
        return redirect(url_for("skills.my_path"))
    return render_template(
        "skills/path.html",
        form=form,
        person=None,
        steps=steps,
        open_paths=open_paths,
        has_enrolled=any(s.state == "enrolled" for p in steps.values() for s in p),
        separator=_separator(locale),
        **profile,
    )


def _separator(locale: str) -> str:
    return ", " if locale == "en" else "、"


def _flash_path_enrolment(outcome, locale: str) -> None:
    """What a path enrolment did, in words: enrolled, already enrolled, waiting and why."""
    sep = _separator(locale)
    if outcome.enrolled:
        flash(
            _l("Enrolled in: %(courses)s.", courses=sep.join(v.title for v in outcome.enrolled)),
            "success",
        )
    elif outcome.already:
        flash(_l("You are already enrolled in every course of this path open to you."), "info")
    if outcome.waiting:
        waits = sep.join(
            str(
                _l(
                    "%(course)s (complete %(prerequisites)s first)",
                    course=step.version.title,
                    prerequisites=sep.join(step.waits_for),
                )
            )
            for step in outcome.waiting
        )
        flash(
            _l(
                "Not enrolled yet, because their prerequisites come first: %(courses)s. "
                "Enrol in them here once those are completed.",
                courses=waits,
            ),
            "info",
        )


# --- firm admins ---------------------------------------------------------------------------


def _heatmap_spec(cells, group_names: dict, skills: dict) -> dict | None:
    """Share of workers with a gap: the 20 most-gapped skills × the groups that have gaps."""
    gapped = [c for c in cells if c.with_gap]
    if not gapped:
        return None
    weight: dict[str, int] = {}
    for c in gapped:
        weight[c.skill_id] = weight.get(c.skill_id, 0) + c.with_gap
    x_ids = sorted(weight, key=lambda s: (-weight[s], s))[:20]
    y_ids = sorted({c.group for c in gapped}, key=lambda g: str(group_names.get(g, g)))
    x_pos = {x: i for i, x in enumerate(x_ids)}
    y_pos = {y: i for i, y in enumerate(y_ids)}
    return {
        "type": "heatmap",
        "x": [skills.get(x, x) for x in x_ids],
        "y": [group_names.get(y, y) for y in y_ids],
        "data": [
            [x_pos[c.skill_id], y_pos[c.group], round(c.share, 2)]
            for c in gapped
            if c.skill_id in x_pos
        ],
        "min": 0,
        "max": 1,
        "percent": True,
        "valueLabel": str(_l("Share of workers with a gap")),
        "tone": "warning",
    }


def _gap_table(cells, group_names: dict):
    """Rows (group, skill, workers, with gap, share, total gap), the top gaps first: the most
    levels missing (workers with the gap × levels each lacks), then the most workers."""
    return sorted(
        cells, key=lambda c: (-c.total_gap, -c.with_gap, str(group_names.get(c.group, c.group)))
    )


def _group_filter(names: dict, message):
    """(group, error) from the ?group= of a gap page: one of `names` (a firm or a job role),
    or None for all; an unknown value shows every group and `message` next to the filter."""
    raw = request.args.get("group", "").strip()
    if not raw:
        return None, None
    for key in names:
        if str(key) == raw:
            return key, None
    return None, message


def _top_gaps(rows, group):
    """The rows with a gap (of one group when `group` is given), paginated."""
    shown = [c for c in rows if c.with_gap and (group is None or c.group == group)]
    return paginate_list(shown, per_page=GAP_PAGE_SIZE)


def _gap_csv(filename: str, group_label, group_names: dict, skills: dict, rows):
    return csv_response(
        filename,
        [
            group_label,
            _l("Skill"),
            _l("Workers"),
            _l("With a gap"),
            _l("Share"),
            _l("Levels missing"),
        ],
        (
            [
                group_names.get(c.group, c.group),
                skills.get(c.skill_id, c.skill_id),
                c.workers,
                c.with_gap,
                f"{c.share:.0%}",
                c.total_gap,
            ]
            for c in rows
        ),
    )


def _skill_names(ids, locale):
    found = db.session.scalars(db.select(Skill).where(Skill.id.in_(set(ids))))
    return {s.id: s.name(locale) for s in found}


@bp.get("/firms/<int:firm_id>/skills")
@needs("report.view", on="firm")
def firm_gaps(firm):
    locale = ui_locale()
    cells = gap_service.gap_cells(firm.consortium_id, firm_id=firm.id, by="role")
    roles = {
        r.id: r.name(locale)
        for r in db.session.scalars(
            db.select(JobRole).where(JobRole.id.in_({c.group for c in cells}))
        )
    }
    skills = _skill_names((c.skill_id for c in cells), locale)
    rows = _gap_table(cells, roles)
    if request.args.get("format") == "csv":
        return _gap_csv(f"skill-gaps-firm-{firm.id}.csv", _l("Job role"), roles, skills, rows)
    group, group_error = _group_filter(roles, _l("Job role: choose a job role of the list."))
    return render_template(
        "skills/firm_gaps.html",
        firm=firm,
        rows=rows,
        page=_top_gaps(rows, group),
        group=group,
        group_error=group_error,
        roles=roles,
        skills=skills,
        spec=_heatmap_spec(cells, roles, skills),
    )


@bp.route("/firms/<int:firm_id>/people/<public_id>/skills", methods=["GET", "POST"])
@needs("person.view", on="firm")
def person_skills(firm, public_id: str):
    person = current_scope().get_person(public_id, within=firm)
    membership = next(
        (m for m in person.memberships if m.firm_id == firm.id and m.is_current()), None
    )
    if membership is None:
        abort(404)
    locale = ui_locale()
    can_manage = has_permission(current_user, "skill.rate", firm)
    role_form = JobRoleForm(prefix="role")
    role_form.job_role.choices = choices(
        [("", _l("— none —"))] + taxonomy.role_options(firm.consortium_id, firm.id)
    )
    rate_form = SkillLevelForm(prefix="rate")
    rate_form.skill.choices = _skill_options(locale, firm.consortium_id)
    rate_form.level.choices = level_choices(locale)
    roles = gap_service.worker_roles(person)
    profile = _profile(person, roles, locale)
    path_form = PathForm(prefix="path")
    path_form.role.choices = choices((p.role.id, p.role.name(locale)) for p in profile["paths"])
    back = url_for("skills.person_skills", firm_id=firm.id, public_id=person.public_id)
    if request.method == "POST" and not can_manage:
        abort(404)
    if role_form.save_role.data and role_form.validate_on_submit():
        try:
            service.set_job_role(current_user, membership, role_form.job_role.data or None)
        except taxonomy.TaxonomyError:
            db.session.rollback()
            role_form.job_role.errors.append(_l("Choose a job role from the list."))
        else:
            db.session.commit()
            flash(_l("Job role saved."), "success")
            return redirect(back)
    elif rate_form.save_level.data and rate_form.validate_on_submit():
        service.record_rating(
            current_user,
            person,
            firm,
            rate_form.skill.data,
            int(rate_form.level.data),
            rate_form.note.data or "",
        )
        db.session.commit()
        flash(_l("Rating saved: it counts as verified evidence."), "success")
        return redirect(back)
    elif path_form.take_path.data and path_form.validate_on_submit():
        path = next(p for p in profile["paths"] if p.role.id == path_form.role.data)
        try:
            counts = {"assigned": 0, "updated": 0}
            for version in recommendations.path_versions(path):
                result = learning.assign_course(
                    current_user,
                    version,
                    [person],
                    source="firm",
                    due_on=path_form.due_on.data,
                    is_mandatory=False,
                    firm=firm,
                )
                counts["assigned"] += result["assigned"]
                counts["updated"] += result["updated"] + result["unchanged"]
        except learning.LearningError as exc:
            db.session.rollback()
            path_form.due_on.errors.append(exc.args[0])
        else:
            db.session.commit()
            flash(
                _l(
                    "Path assigned: %(assigned)d new courses, %(updated)d already assigned.",
                    **counts,
                ),
                "success",
            )
            return redirect(back)
    elif request.method == "GET":
        role_form.job_role.data = membership.job_role_id or ""
    return render_template(
        "skills/person_skills.html",
        firm=firm,
        person=person,
        can_manage=can_manage,
        role_form=role_form,
        rate_form=rate_form,
        path_form=path_form,
        **profile,
    )


# --- consortium admins ---------------------------------------------------------------------


@bp.get("/consortia/<int:consortium_id>/skills/gaps")
@needs("report.view", on="consortium")
def consortium_gaps(consortium):
    locale = ui_locale()
    cells = gap_service.gap_cells(consortium.id, by="firm")
    firms = {f.id: f.name for f in consortium.firms}
    uncovered = gap_service.uncovered_gaps(consortium.id)
    skills = _skill_names([*(c.skill_id for c in cells), *(u.skill_id for u in uncovered)], locale)
    table = request.args.get("table")
    if request.args.get("format") == "csv" and table == "uncovered":
        return csv_response(
            f"uncovered-gaps-{consortium.code}.csv",
            [
                _l("Skill"),
                _l("Skill id"),
                _l("Workers with the gap"),
                _l("Highest level required"),
                _l("Best level a course teaches"),
            ],
            (
                [
                    skills.get(u.skill_id, u.skill_id),
                    u.skill_id,
                    u.with_gap,
                    level_name(u.required, locale),
                    level_name(u.best_course, locale) if u.best_course else "",
                ]
                for u in uncovered
            ),
        )
    rows = _gap_table(cells, firms)
    if request.args.get("format") == "csv":
        return _gap_csv(f"skill-gaps-{consortium.code}.csv", _l("Firm"), firms, skills, rows)
    group, group_error = _group_filter(firms, _l("Firm: choose a firm of this consortium."))
    last_job = db.session.scalars(
        db.select(recommendations.RecommendationList.computed_at)
        .where(recommendations.RecommendationList.consortium_id == consortium.id)
        .order_by(recommendations.RecommendationList.computed_at.desc())
        .limit(1)
    ).first()
    return render_template(
        "skills/consortium_gaps.html",
        consortium=consortium,
        rows=rows,
        page=_top_gaps(rows, group),
        group=group,
        group_error=group_error,
        firms=firms,
        skills=skills,
        uncovered=uncovered[:UNCOVERED_SHOWN],
        uncovered_total=len(uncovered),
        last_computed=last_job,
        spec=_heatmap_spec(cells, firms, skills),
    )


@bp.post("/consortia/<int:consortium_id>/recommendations")
@needs("report.view", on="consortium")
def recompute_recommendations(consortium):
    job = start_job("recommendations", actor=current_user, consortium=consortium)
    return redirect(url_for("jobs.job_page", public_id=job.public_id))
