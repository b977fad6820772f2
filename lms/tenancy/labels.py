"""The names shown for roles, kinds of firm, regions and sectors, in the page's language."""

from flask_babel import lazy_gettext as _l

from lms.tenancy.models import FIRM_KINDS, REGIONS, ROLES, SECTORS

ROLE_LABELS = {
    "worker": _l("Worker"),
    "trainer": _l("Trainer"),
    "firm_admin": _l("Firm admin"),
    "consortium_admin": _l("Consortium admin"),
    "auditor": _l("Auditor"),
}
FIRM_KIND_LABELS = {
    "chain_leader": _l("Chain leader"),
    "single_champion": _l("Single champion"),
    "specialized_sme": _l("Specialised SME"),
    "hr_service": _l("HR service provider"),
    "college": _l("College / training base"),
}
REGION_LABELS = {
    "east": _l("East"),
    "central": _l("Central"),
    "west": _l("West"),
    "northeast": _l("Northeast"),
}
SECTOR_LABELS = {
    "smart-manufacturing": _l("Smart manufacturing"),
    "industrial-internet": _l("Industrial internet"),
    "equipment-manufacturing": _l("Equipment manufacturing"),
    "electronics": _l("Electronics and information"),
    "automotive": _l("Automotive"),
    "new-materials": _l("New materials"),
    "new-energy": _l("New energy"),
    "biomedicine": _l("Biomedicine"),
    "textiles": _l("Textiles and apparel"),
    "food-processing": _l("Food processing"),
}
assert set(ROLE_LABELS) == set(ROLES) and set(FIRM_KIND_LABELS) == set(FIRM_KINDS)
assert set(REGION_LABELS) == set(REGIONS) and set(SECTOR_LABELS) == set(SECTORS)
