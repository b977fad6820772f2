"""How a tenant-owned row belongs to a tenant, so that one lookup serves every domain.

A tenant-owned model mixes in `TenantOwned` and declares `__tenant__`:

- `Tenant()`: its `consortium_id` column holds the consortium (`firm="firm_id"` too where a row
  belongs to a firm; `shared=True` where a NULL consortium means the shared national data);
- `Tenant(parent="version_id")`: it belongs to whoever owns its parent row (a lesson to its
  course version), so it is looked up inside that parent, already scoped;
- `owner="user_id"`: the person a row is about reaches it wherever they work now (their own
  certificate after leaving the firm).

The lookup itself is `lms.tenancy.scope.Scope.get`; this module knows no domain.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import ClassVar

from sqlalchemy import and_, false, or_


@dataclass(frozen=True)
class Tenant:
    consortium: str | None = "consortium_id"
    firm: str | None = None
    parent: str | None = None
    shared: bool = False
    owner: str | None = None


class TenantOwned:
    """Mixin of a tenant-owned model; see the module's docstring."""

    __tenant__: ClassVar[Tenant] = Tenant()

    @classmethod
    def tenant_clause(
        cls,
        *,
        consortium_ids: Collection[int],
        firm_id: int | None = None,
        parent_id: int | None = None,
        own_only: bool = False,
        user_id: int | None = None,
    ):
        """SQL condition: the row lies inside what the caller reaches.

        `consortium_ids`: the caller's consortia (or the one consortium being looked in);
        `firm_id`: only that firm's rows; `parent_id`: rows of that (already scoped) parent;
        `user_id`: the caller, who also reaches the rows they own (models with an owner);
        `own_only`: only the place's own rows (for editing): no shared ones (a NULL
        consortium), where the model has them. A model with other rules overrides this.
        """
        tenant = cls.__tenant__
        if tenant.parent is not None:
            if parent_id is None:
                raise TypeError(f"{cls.__name__} is looked up within its parent row")
            return getattr(cls, tenant.parent) == parent_id
        column = getattr(cls, tenant.consortium)
        inside = column.in_(list(consortium_ids)) if consortium_ids else false()
        if firm_id is not None:
            if tenant.firm is None:
                raise TypeError(f"{cls.__name__} rows do not belong to a firm")
            inside = and_(inside, getattr(cls, tenant.firm) == firm_id)
        if tenant.shared and not own_only:
            inside = or_(inside, column.is_(None))
        if tenant.owner is not None and user_id is not None:
            inside = or_(inside, getattr(cls, tenant.owner) == user_id)
        return inside
