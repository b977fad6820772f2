"""The navigation of a signed-in user: one model, computed from their roles and permissions, that
the side menu (desktop), the menu and the bottom tab bar (phone) are drawn from.

Each role brings its own destinations (a worker their learning, a trainer their courses, a firm
admin their firm's people, enrolments and reports, …); a person with several roles sees the union,
grouped by role and place, each link once, and only links they may follow. The page being shown
marks one item as current, nested pages included (a lesson marks "My learning").
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from flask import g, request, url_for
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from flask_login import current_user

from lms.permissions import has_permission
from lms.tenancy.labels import ROLE_LABELS

# The bottom tab bar of a phone holds at most this many items, "Me" (the account) included.
MAX_TABS = 5
# Groups in this order: the first group present is the user's main role, whose items the phone's
# tab bar shows (workers and trainers use phones; admins work mostly at a desktop).
ROLE_ORDER = ("worker", "trainer", "firm_admin", "consortium_admin", "auditor", "platform_admin")
GROUP_LABELS = {**ROLE_LABELS, "platform_admin": _l("Platform administration")}


@dataclass(frozen=True)
class NavItem:
    """One destination: its labels (full, and short for the tab bar), icon, address, and
    whether it is the section of the page being shown."""

    key: str
    label: str
    short: str
    icon: str
    url: str
    current: bool = False
    # Which pages belong to this item's section: endpoints, blueprint-wide prefixes, and the
    # place (("firm_id", 3)) whose pages they are.
    endpoints: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    prefixes: tuple[str, ...] = field(default=(), repr=False, compare=False)
    place: tuple[str, int] | None = field(default=None, repr=False, compare=False)

    def section_score(self, endpoint: str | None, view_args: dict) -> int:
        """How well the page (endpoint, view_args) belongs to this item: 0 not at all (also
        for the same page of another place); named endpoints beat blueprint prefixes; a page
        of the item's own place beats one below it."""
        if not endpoint:
            return 0
        if endpoint in self.endpoints:
            score = 4
        elif any(endpoint.startswith(p) for p in self.prefixes):
            score = 2
        else:
            return 0
        if self.place is None:
            return score + 2
        key, value = self.place
        if key not in view_args:
            return score + 1  # a page below the place (a firm of the consortium, a course)
        return score + 2 if view_args[key] == value else 0


@dataclass(frozen=True)
class NavGroup:
    """The items one role brings, at one place (a firm or consortium; none for learners)."""

    role: str
    place: str | None
    items: tuple[NavItem, ...]

    @property
    def label(self) -> str:
        return GROUP_LABELS[self.role]


@dataclass(frozen=True)
class Navigation:
    """Everything the page's navigation shows for one user on one page."""

    home: NavItem
    groups: tuple[NavGroup, ...]
    account: NavItem
    notifications_current: bool = False

    @property
    def items(self) -> list[NavItem]:
        """Every destination of the menu, home first, each once."""
        return [self.home, *(item for group in self.groups for item in group.items)]

    @property
    def tabs(self) -> list[NavItem]:
        """The phone's tab bar: the main role's items (home first when they leave room), then
        "Me". What does not fit is in the menu."""
        room = MAX_TABS - 1
        main = list(self.groups[0].items[:room]) if self.groups else []
        if len(main) < room:
            main.insert(0, self.home)
        return [*main, self.account]

    @property
    def current_in_menu_only(self) -> bool:
        """Whether the current page's item is in the menu but not in the tab bar (home is
        not counted: the brand leads there)."""
        tabs = {item.url for item in self.tabs} | {self.home.url}
        return any(item.current and item.url not in tabs for item in self.items)


# --- what each role brings ---------------------------------------------------------------------


def _worker_items(user) -> list[NavItem]:
    return [
        NavItem(
            "learning",
            _l("My learning"),
            _l("Learning"),
            "learning",
            url_for("learning.my_learning"),
            prefixes=("learning.",),
        ),
        _catalogue_item(),
        NavItem(
            "skills",
            _l("My skills"),
            _l("Skills"),
            "skills",
            url_for("skills.my_skills"),
            endpoints=frozenset({"skills.my_skills", "skills.my_skill", "skills.my_path"}),
        ),
        NavItem(
            "certificates",
            _l("My certificates"),
            _l("Certificates"),
            "certificate",
            url_for("certificates.my_certificates"),
            endpoints=frozenset({"certificates.my_certificates"}),
        ),
        NavItem(
            "transcript",
            _l("My transcript"),
            _l("Transcript"),
            "transcript",
            url_for("transcripts.my_transcript"),
            endpoints=frozenset({"transcripts.my_transcript"}),
        ),
    ]


def _catalogue_item() -> NavItem:
    return NavItem(
        "catalogue",
        _l("Course catalogue"),
        _l("Courses"),
        "catalogue",
        url_for("courses.catalogue"),
        prefixes=("courses.",),
    )


def _trainer_items(user, firm) -> list[NavItem]:
    items = []
    if has_permission(user, "course.author", firm):
        items.append(
            NavItem(
                "my_courses",
                _l("My courses"),
                _l("My courses"),
                "authoring",
                url_for("authoring.my_courses", firm_id=firm.id),
                endpoints=frozenset(
                    {"assignments.course_learners", "course_reports.course_analytics"}
                ),
                prefixes=("authoring.",),
                place=("firm_id", firm.id),
            )
        )
    items.append(_catalogue_item())
    return items


FIRM_PEOPLE_PAGES = frozenset(
    {
        "tenancy.firm_people",
        "tenancy.invite_person",
        "tenancy.deactivate_person",
        "tenancy.import_people",
        "tenancy.import_preview",
        "skills.person_skills",
        "transcripts.person_transcript",
        "taxonomy.firm_roles",
        "taxonomy.firm_role",
        "taxonomy.new_firm_role",
        "taxonomy.edit_firm_role",
        "taxonomy.deactivate_firm_role",
    }
)
FIRM_REPORT_PAGES = frozenset(
    {
        "reports.firm_dashboard",
        "reports.firm_people",
        "skills.firm_gaps",
        "certificates.firm_certificates",
        "transcripts.firm_hours",
    }
)


def _firm_admin_items(user, firm) -> list[NavItem]:
    place = ("firm_id", firm.id)
    items = []
    if has_permission(user, "person.view", firm):
        items.append(
            NavItem(
                "firm_people",
                _l("People"),
                _l("People"),
                "people",
                url_for("tenancy.firm_people", firm_id=firm.id),
                endpoints=FIRM_PEOPLE_PAGES,
                place=place,
            )
        )
    if has_permission(user, "enrollment.assign", firm):
        items.append(
            NavItem(
                "firm_enrollments",
                _l("Assignments and progress"),
                _l("Progress"),
                "enrollments",
                url_for("assignments.firm_enrollments", firm_id=firm.id),
                endpoints=frozenset({"assignments.firm_enrollments", "assignments.assign_firm"}),
                place=place,
            )
        )
    if has_permission(user, "report.view", firm):
        items.append(
            NavItem(
                "firm_reports",
                _l("Dashboard"),
                _l("Dashboard"),
                "reports",
                url_for("reports.firm_dashboard", firm_id=firm.id),
                endpoints=FIRM_REPORT_PAGES,
                place=place,
            )
        )
    return items


def _consortium_admin_items(user, consortium) -> list[NavItem]:
    place = ("consortium_id", consortium.id)
    items = []
    if has_permission(user, "firm.manage", consortium):
        items.append(
            NavItem(
                "firms",
                _l("Member firms"),
                _lp("navigation", "Firms"),
                "firms",
                url_for("tenancy.firms", consortium_id=consortium.id),
                endpoints=frozenset(
                    {
                        "tenancy.firms",
                        "tenancy.new_firm",
                        "tenancy.edit_firm",
                        "tenancy.deactivate_firm",
                        "tenancy.consortium_people",
                        "tenancy.invite_firm_admin",
                        "tenancy.firm_people",
                    }
                ),
                place=place,
            )
        )
    if has_permission(user, "course.approve", consortium):
        items.append(
            NavItem(
                "course_review",
                _l("Course review"),
                _lp("navigation", "Review"),
                "review",
                url_for("authoring.review_queue", consortium_id=consortium.id),
                endpoints=frozenset(
                    {
                        "authoring.review_queue",
                        "authoring.review_version",
                        "assignments.course_learners",
                        "course_reports.course_analytics",
                    }
                ),
                place=place,
            )
        )
    if has_permission(user, "report.view", consortium):
        items.append(
            NavItem(
                "consortium_reports",
                _l("Consortium dashboard"),
                _l("Dashboard"),
                "reports",
                url_for("reports.consortium_dashboard", consortium_id=consortium.id),
                endpoints=FIRM_REPORT_PAGES
                | {
                    "reports.consortium_dashboard",
                    "reports.consortium_people",
                    "monthly_reports.monthly",
                    "skills.consortium_gaps",
                    "certificates.consortium_certificates",
                    "certificates.revoke",
                    "certificates.bulk",
                    "transcripts.consortium_hours",
                    "transcripts.person_transcript",
                    "skills.person_skills",
                    "assignments.assign_consortium",
                },
                place=place,
            )
        )
    items.extend(_audit_items(user, consortium))
    return items


def _audit_items(user, consortium) -> list[NavItem]:
    if not has_permission(user, "audit.view", consortium):
        return []
    return [
        NavItem(
            "audit",
            _l("Audit log"),
            _lp("navigation", "Audit"),
            "audit",
            url_for("audit.audit_log", consortium_id=consortium.id),
            endpoints=frozenset({"audit.audit_log"}),
            place=("consortium_id", consortium.id),
        )
    ]


def _platform_items(user) -> list[NavItem]:
    if not has_permission(user, "consortium.manage"):
        return []
    return [
        NavItem(
            "consortia",
            _l("Consortia"),
            _l("Consortia"),
            "consortia",
            url_for("tenancy.consortia"),
            endpoints=frozenset(
                {
                    "tenancy.consortia",
                    "tenancy.new_consortium",
                    "tenancy.edit_consortium",
                    "tenancy.invite_consortium_admin",
                }
            ),
        )
    ]


ITEMS_OF_ROLE = {
    "worker": _worker_items,
    "trainer": _trainer_items,
    "firm_admin": _firm_admin_items,
    "consortium_admin": _consortium_admin_items,
    "auditor": _audit_items,
}
FIRM_ROLES = ("trainer", "firm_admin")


# --- the model ---------------------------------------------------------------------------------


def _current_memberships(user) -> list:
    """The memberships whose pages the user may open today (active consortium and firm)."""
    return [
        m
        for m in user.memberships
        if m.is_current()
        and m.consortium.is_active
        and (m.firm is None or m.firm.is_active)
        and m.role in ROLE_ORDER
    ]


def _groups(user) -> list[NavGroup]:
    memberships = sorted(
        _current_memberships(user),
        key=lambda m: (ROLE_ORDER.index(m.role), m.consortium_id, m.firm_id or 0, m.id),
    )
    groups: list[NavGroup] = []
    seen: set[tuple[str, int | None]] = set()
    for m in memberships:
        if m.role == "worker":
            key, place = ("worker", None), None
        elif m.role in FIRM_ROLES:
            key, place = (m.role, m.firm_id), m.firm
        else:
            key, place = (m.role, m.consortium_id), m.consortium
        if key in seen:
            continue
        seen.add(key)
        items = ITEMS_OF_ROLE[m.role](user) if place is None else ITEMS_OF_ROLE[m.role](user, place)
        groups.append(NavGroup(m.role, place.name if place else None, tuple(items)))
    if user.is_platform_admin:
        groups.append(NavGroup("platform_admin", None, tuple(_platform_items(user))))
    return groups


def _without_duplicates(groups: list[NavGroup], taken: set[str]) -> list[NavGroup]:
    """Each destination once, in its first group; groups left empty are dropped."""
    kept = []
    for group in groups:
        items = []
        for item in group.items:
            if item.url not in taken:
                taken.add(item.url)
                items.append(item)
        if items:
            kept.append(replace(group, items=tuple(items)))
    return kept


def _mark_current(items: list[NavItem], endpoint: str | None, view_args: dict) -> set[str]:
    """The url of the one item whose section the page is in (none if no item fits)."""
    best, best_score = None, 0
    for item in items:
        score = item.section_score(endpoint, view_args)
        if score > best_score:
            best, best_score = item, score
    return {best.url} if best else set()


def build_navigation(user, endpoint: str | None, view_args: dict | None = None) -> Navigation:
    """The navigation of `user` (signed in) on the page of `endpoint` with `view_args`."""
    view_args = view_args or {}
    home = NavItem(
        "home",
        _l("Home"),
        _l("Home"),
        "home",
        url_for("home.index"),
        endpoints=frozenset({"home.index"}),
    )
    account = NavItem(
        "account",
        _l("My account"),
        _l("Me"),
        "account",
        url_for("auth.account"),
        endpoints=frozenset({"auth.account", "auth.change_password"}),
    )
    groups = _without_duplicates(_groups(user), {home.url, account.url})
    candidates = [home, account, *(item for group in groups for item in group.items)]
    current = _mark_current(candidates, endpoint, view_args)

    def marked(item: NavItem) -> NavItem:
        return replace(item, current=item.url in current)

    return Navigation(
        home=marked(home),
        groups=tuple(replace(gr, items=tuple(marked(i) for i in gr.items)) for gr in groups),
        account=marked(account),
        notifications_current=bool(endpoint and endpoint.startswith("notifications.")),
    )


def navigation() -> Navigation | None:
    """The current user's navigation on the current page (None for guests), once a request."""
    if not (current_user and current_user.is_authenticated):
        return None
    if "navigation" not in g:
        g.navigation = build_navigation(current_user, request.endpoint, request.view_args)
    return g.navigation
