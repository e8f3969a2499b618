"""Deployments of logged models: create, change, delete, tag, list; the sessions themselves live in the
``DeploymentHost`` of each process (``deployments_host.py``).

A change of model or serving size makes a new *revision*. Its model reference is resolved before the change
is written, so the answer already says whether it can be had: if not, the deployment is ``failed`` with the
reason (or, when an earlier revision is running, keeps running it with the reason in ``error``). The session
is then loaded in the background: ``pending`` → ``running``, or ``failed`` with the reason.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from switchyard.domain.deployments import Deployment, DeploymentKind, DeploymentStatus, LogLine, ServingSize
from switchyard.errors import NotFound
from switchyard.listing import ListQuery, Page
from switchyard.services import audit
from switchyard.services.crud import apply_changes
from switchyard.services.deployments_host import DeploymentHost, Wanted
from switchyard.services.platform import Platform
from switchyard.services.principal import Caller
from switchyard.store.query import fetch_page
from switchyard.store.rows import flush_unique, get_or_404
from switchyard.store.tables import DeploymentRow, DeploymentTagRow

LABEL = "deployment"
FIELDS = {
    "id": DeploymentRow.id,
    "name": DeploymentRow.name,
    "description": DeploymentRow.description,
    "kind": DeploymentRow.kind,
    "model": DeploymentRow.model,
    "serving.size": DeploymentRow.serving_size,
    "status": DeploymentRow.status,
    "revision": DeploymentRow.revision,
    "running_revision": DeploymentRow.running_revision,
    "created_by": DeploymentRow.created_by,
    "created_at": DeploymentRow.created_at,
    "updated_at": DeploymentRow.updated_at,
}
RELOADING = frozenset({"model", "serving_size"})
"""Changes that make a new revision (a new session is loaded)."""


def to_domain(row: DeploymentRow, tags: dict[str, str]) -> Deployment:
    return Deployment(
        id=row.id,
        name=row.name,
        description=row.description,
        kind=DeploymentKind(row.kind),
        model=row.model,
        serving_size=ServingSize(row.serving_size),
        status=DeploymentStatus(row.status),
        error=row.error,
        revision=row.revision,
        running_revision=row.running_revision,
        model_data=dict(row.model_data),
        tags=tags,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _tags(session: AsyncSession, deployment_ids: list[int]) -> dict[int, dict[str, str]]:
    found: dict[int, dict[str, str]] = {i: {} for i in deployment_ids}
    if deployment_ids:
        rows = await session.execute(
            select(DeploymentTagRow)
            .where(DeploymentTagRow.deployment_id.in_(deployment_ids))
            .order_by(DeploymentTagRow.key)
        )
        for tag in rows.scalars():
            found[tag.deployment_id][tag.key] = tag.value
    return found


async def _set_tags(session: AsyncSession, deployment_id: int, tags: dict[str, str]) -> None:
    existing = {
        tag.key: tag
        for tag in (
            await session.execute(select(DeploymentTagRow).where(DeploymentTagRow.deployment_id == deployment_id))
        ).scalars()
    }
    for key, value in tags.items():
        if key in existing:
            existing[key].value = value
        else:
            session.add(DeploymentTagRow(deployment_id=deployment_id, key=key, value=value))
    await session.flush()


async def _one(session: AsyncSession, row: DeploymentRow) -> Deployment:
    return to_domain(row, (await _tags(session, [row.id]))[row.id])


async def list_deployments(platform: Platform, query: ListQuery) -> Page[Deployment]:
    async with platform.transaction() as session:
        rows, total = await fetch_page(session, DeploymentRow, FIELDS, query)
        tags = await _tags(session, [r.id for r in rows])
    return Page([to_domain(r, tags[r.id]) for r in rows], total, query.limit, query.offset)


async def get_deployment(platform: Platform, deployment_id: int) -> Deployment:
    async with platform.transaction() as session:
        return await _one(session, await get_or_404(session, DeploymentRow, deployment_id, LABEL))


async def create_deployment(
    platform: Platform, host: DeploymentHost, caller: Caller, values: dict[str, Any], tags: dict[str, str]
) -> Deployment:
    """``values``: the columns (name, description, kind, model, serving_size)."""
    directory, failure = await host.resolve(values["model"])
    async with platform.transaction() as session:
        row = DeploymentRow(
            **values,
            status=(DeploymentStatus.failed if failure else DeploymentStatus.pending).value,
            error=failure,
            revision=1,
            model_data={},
            created_by=caller.principal.user_id if caller.principal else None,
        )
        session.add(row)
        await flush_unique(session, LABEL, "name")
        await _set_tags(session, row.id, tags)
        summary = f"created deployment '{row.name}' of {row.model}" + (" (model unavailable)" if failure else "")
        audit.record(session, caller, "deployment.create", LABEL, row.id, summary)
        created = await _one(session, row)
    host.want(Wanted.of(created), directory=directory, failure=failure)
    return created


async def update_deployment(
    platform: Platform, host: DeploymentHost, caller: Caller, deployment_id: int, changes: dict[str, Any]
) -> Deployment:
    """A change of ``model`` or ``serving_size`` (even to the same value: an alias may point elsewhere now)
    rolls out a new revision; the running one serves until the new one is loaded."""
    reload = bool(RELOADING & changes.keys())
    directory = failure = None
    if reload:
        model = changes.get("model") or (await get_deployment(platform, deployment_id)).model
        directory, failure = await host.resolve(model)
    async with platform.transaction() as session:
        row = await get_or_404(session, DeploymentRow, deployment_id, LABEL)
        apply_changes(row, changes)
        if reload:
            row.revision = DeploymentRow.revision + 1  # in SQL: no lost update
            row.error = failure
            if row.running_revision is None:
                row.status = (DeploymentStatus.failed if failure else DeploymentStatus.pending).value
        await flush_unique(session, LABEL, "name")
        await session.refresh(row)
        audit.record(session, caller, "deployment.update", LABEL, deployment_id, audit.changed_fields(changes))
        updated = await _one(session, row)
    host.want(Wanted.of(updated), directory=directory, failure=failure)
    return updated


async def delete_deployment(platform: Platform, host: DeploymentHost, caller: Caller, deployment_id: int) -> None:
    async with platform.transaction() as session:
        row = await get_or_404(session, DeploymentRow, deployment_id, LABEL)
        await session.delete(row)
        audit.record(session, caller, "deployment.delete", LABEL, deployment_id, f"deleted deployment '{row.name}'")
    host.forget(deployment_id)


async def tag_deployment(platform: Platform, caller: Caller, deployment_id: int, tags: dict[str, str]) -> Deployment:
    """Adds tags, or changes the value of those it has."""
    async with platform.transaction() as session:
        row = await get_or_404(session, DeploymentRow, deployment_id, LABEL)
        await _set_tags(session, deployment_id, tags)
        summary = "tagged " + ", ".join(sorted(tags)) if tags else "no change"
        audit.record(session, caller, "deployment.tag", LABEL, deployment_id, summary)
        return await _one(session, row)


async def untag_deployment(platform: Platform, caller: Caller, deployment_id: int, key: str) -> Deployment:
    async with platform.transaction() as session:
        row = await get_or_404(session, DeploymentRow, deployment_id, LABEL)
        removed = await session.execute(
            delete(DeploymentTagRow).where(DeploymentTagRow.deployment_id == deployment_id, DeploymentTagRow.key == key)
        )
        if not getattr(removed, "rowcount", 0):
            raise NotFound(f"Deployment {deployment_id} has no tag '{key}'.", param="key")
        audit.record(session, caller, "deployment.untag", LABEL, deployment_id, f"removed tag {key}")
        return await _one(session, row)


async def deployment_logs(platform: Platform, host: DeploymentHost, deployment_id: int) -> list[LogLine]:
    """This process's log of the deployment; after a restart, the last error the table kept."""
    deployment = await get_deployment(platform, deployment_id)
    lines = host.logs(deployment_id)
    if not lines and deployment.error and deployment.updated_at is not None:
        lines = [LogLine(deployment.updated_at, "error", f"revision {deployment.revision}: {deployment.error}")]
    return lines
