"""One archive that restores an instance: the database, the stored files, the signing keys and
the secret key.

The archive is a tar.gz: `database/lms.sqlite3` (SQLite's online backup API, consistent while
the app runs) or `database/lms.pgdump` (`pg_dump --format=custom`), `storage/…` (LMS_STORAGE_DIR),
`keys/…` (LMS_SIGNING_KEY_DIR), `secret_key` (the instance's, unless LMS_SECRET_KEY comes from the
environment) and, last, `manifest.json`: format version, creation time, database kind, alembic
revision, row counts per table and the SHA-256 of every other member. The row counts are taken
from the same snapshot as the dump, so a restore can check it got back exactly what was saved.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from lms.certificates import signing
from lms.extensions import db

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/lms.sqlite3"
PG_MEMBER = "database/lms.pgdump"
SECRET_MEMBER = "secret_key"  # noqa: S105  (a member name)
PREFIXES = ("database/", "storage/", "keys/")

Say = Callable[[str], None]


class OpsError(Exception):
    """Backup or restore refused: the message says why and what to do."""


# --- what is where ------------------------------------------------------------------------------


def database_kind(engine: sa.Engine) -> str:
    return "postgresql" if engine.url.get_backend_name() == "postgresql" else "sqlite"


def storage_dir() -> Path:
    return Path(current_app.config["LMS_STORAGE_DIR"])


def secret_key_path() -> Path:
    return Path(current_app.instance_path) / "secret_key"


def secret_key_from_environment() -> bool:
    return bool(os.environ.get("LMS_SECRET_KEY"))


def known_revisions() -> tuple[set[str], set[str]]:
    """All alembic revisions this code knows, and its heads."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())
    return {r.revision for r in script.walk_revisions()}, set(script.get_heads())


def alembic_revision(connection: sa.Connection) -> str | None:
    if not sa.inspect(connection).has_table("alembic_version"):
        return None  # made by create_all (tests), never migrated
    return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def row_counts(connection: sa.Connection) -> dict[str, int]:
    """Rows of every table of the database (not only the models': alembic_version too)."""
    return {
        name: connection.execute(
            sa.select(sa.func.count()).select_from(sa.table(name))
        ).scalar_one()
        for name in sorted(sa.inspect(connection).get_table_names())
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


# --- PostgreSQL client tools --------------------------------------------------------------------


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise OpsError(
            f"{name} not found: install the PostgreSQL client tools of the server's major "
            "version (Debian: apt-get install postgresql-client)."
        )
    return found


def _pg_check_version(tool: str, connection: sa.Connection) -> None:
    """pg_dump/pg_restore older than the server cannot read its dumps: say so up front."""
    # The tools are found on PATH by name; the arguments are ours (S603).
    output = subprocess.run([tool, "--version"], capture_output=True, text=True, check=True)  # noqa: S603
    found = re.search(r"PostgreSQL\)\s*(\d+)", output.stdout)
    if found is None:
        raise OpsError(f"cannot read the version of {tool}: {output.stdout.strip()!r}")
    client = int(found[1])
    server = int(connection.execute(sa.text("SHOW server_version_num")).scalar()) // 10000
    if client < server:
        raise OpsError(
            f"{Path(tool).name} is version {client} but the server is PostgreSQL {server}: "
            f"install the client tools of version {server} or newer."
        )


def _pg_connection_args(url: sa.URL) -> tuple[list[str], dict]:
    """Arguments naming the database; the password goes through the environment, never argv."""
    args = ["--dbname", url.database or "postgres", "--host", url.host or "localhost"]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    env = {**os.environ, "PGPASSWORD": url.password} if url.password else dict(os.environ)
    return args, env


def _run(command: list[str], env: dict) -> None:
    result = subprocess.run(command, capture_output=True, text=True, env=env)  # noqa: S603
    if result.returncode != 0:
        raise OpsError(f"{Path(command[0]).name} failed: {result.stderr.strip()[-2000:]}")


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent copy while others read and write."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


# --- backup -------------------------------------------------------------------------------------


def _dump_database(engine: sa.Engine, staging: Path, say: Say) -> tuple[str, dict, str | None]:
    """The database into `staging`; its member name, row counts and alembic revision (all of
    one consistent snapshot)."""
    if database_kind(engine) == "sqlite":
        source = Path(engine.url.database)
        target = staging / SQLITE_MEMBER
        target.parent.mkdir()
        say("database: copying the SQLite database (online backup)…")
        _sqlite_copy(source, target)
        copy = sa.create_engine(f"sqlite:///{target}", poolclass=sa.pool.NullPool)
        with copy.connect() as connection:
            found = row_counts(connection), alembic_revision(connection)
        copy.dispose()
        return SQLITE_MEMBER, *found
    tool = _pg_tool("pg_dump")
    target = staging / PG_MEMBER
    target.parent.mkdir()
    # The counts and the dump read one exported snapshot: they describe the same data.
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
        _pg_check_version(tool, connection)
        snapshot = connection.execute(sa.text("SELECT pg_export_snapshot()")).scalar()
        counts, revision = row_counts(connection), alembic_revision(connection)
        say("database: pg_dump --format=custom…")
        args, env = _pg_connection_args(engine.url)
        _run([tool, "--format=custom", f"--snapshot={snapshot}", "--file", str(target), *args], env)
        connection.rollback()
    return PG_MEMBER, counts, revision


def _add(archive: tarfile.TarFile, path: Path, name: str, members: dict, mode: int = 0o600):
    info = archive.gettarinfo(str(path), arcname=name)
    info.mode, info.uid, info.gid, info.uname, info.gname = mode, 0, 0, "", ""
    digest = hashlib.sha256()

    class Hashing:  # hashes what goes into the archive, as it goes
        def __init__(self, handle):
            self.handle = handle

        def read(self, size=-1):
            data = self.handle.read(size)
            digest.update(data)
            return data

    with path.open("rb") as handle:
        archive.addfile(info, Hashing(handle))
    members[name] = digest.hexdigest()


def backup(path: Path, say: Say = print) -> dict:
    """Write the archive to `path` (mode 0600, replaced atomically); its manifest."""
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = db.engine
    with tempfile.TemporaryDirectory(prefix="lms-backup-") as tmp:
        staging = Path(tmp)
        member, counts, revision = _dump_database(engine, staging, say)
        say(f"database: {sum(counts.values())} rows in {len(counts)} tables")
        members: dict[str, str] = {}
        handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        try:  # mkstemp makes the file 0600: the archive holds the keys
            with os.fdopen(handle, "wb") as out, tarfile.open(fileobj=out, mode="w:gz") as archive:
                _add(archive, staging / member, member, members)
                for label, folder, prefix in (
                    ("stored files", storage_dir(), "storage"),
                    ("signing keys", signing.key_dir(), "keys"),
                ):
                    files = _files(folder)
                    say(f"{label}: {len(files)} files from {folder}…")
                    for number, file in enumerate(files, 1):
                        name = f"{prefix}/{file.relative_to(folder).as_posix()}"
                        _add(archive, file, name, members, 0o600 if prefix == "keys" else 0o644)
                        if number % 1000 == 0:
                            say(f"{label}: {number} / {len(files)}")
                key_kept_in = "environment"
                if secret_key_from_environment():
                    say(
                        "secret key: LMS_SECRET_KEY comes from the environment and is not in the "
                        "archive: keep it separately (sessions and encrypted ID numbers need it)."
                    )
                elif secret_key_path().is_file():
                    _add(archive, secret_key_path(), SECRET_MEMBER, members)
                    key_kept_in = "archive"
                    say("secret key: included")
                manifest = {
                    "format": FORMAT,
                    "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "database": database_kind(engine),
                    "alembic_revision": revision,
                    "row_counts": counts,
                    "secret_key": key_kept_in,
                    "members": members,
                }
                manifest_file = staging / MANIFEST
                manifest_file.write_text(json.dumps(manifest, indent=2, sort_keys=True))
                info = archive.gettarinfo(str(manifest_file), arcname=MANIFEST)
                info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
                with manifest_file.open("rb") as manifest_handle:
                    archive.addfile(info, manifest_handle)
            os.replace(partial, path)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
    say(f"archive: {path} ({path.stat().st_size} bytes, {len(members)} members, mode 0600)")
    return manifest


# --- restore ------------------------------------------------------------------------------------


def read_archive(path: Path, into: Path) -> dict:
    """Unpack the archive into `into` and return its manifest, after checking that every
    member is listed with its SHA-256 and none is damaged or missing."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            archive.extractall(into, filter="data")
    except (OSError, EOFError, tarfile.TarError, zlib.error) as exc:
        raise OpsError(f"{path} is damaged or not a backup archive: {exc}") from exc
    try:
        manifest = json.loads((into / MANIFEST).read_text())
        members = manifest["members"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise OpsError(f"{path} has no readable {MANIFEST}: not a backup archive") from exc
    if manifest.get("format") != FORMAT:
        raise OpsError(
            f"{path} is backup format {manifest.get('format')!r}; this code reads {FORMAT}"
        )
    found = {p.relative_to(into).as_posix() for p in into.rglob("*") if p.is_file()} - {MANIFEST}
    if found != set(members):
        raise OpsError(
            f"{path} is damaged: members missing {sorted(set(members) - found)[:5]}, "
            f"unlisted {sorted(found - set(members))[:5]}"
        )
    bad = [name for name, digest in members.items() if _sha256(into / name) != digest]
    if bad:
        raise OpsError(f"{path} is damaged: SHA-256 mismatch in {', '.join(sorted(bad)[:5])}")
    return manifest


def _install(source: Path, target: Path, mode: int | None = None) -> None:
    """Copy `source` to `target` through a temporary name (a reader never sees half a file)."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700 if mode == 0o600 else 0o777)
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=".restore-")
    try:
        with os.fdopen(handle, "wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out)
        os.chmod(partial, mode if mode is not None else 0o644)
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def _restore_database(engine: sa.Engine, unpacked: Path, manifest: dict, say: Say) -> None:
    engine.dispose()  # no pooled connection keeps the old database open
    if manifest["database"] == "sqlite":
        target = Path(engine.url.database)
        target.parent.mkdir(parents=True, exist_ok=True)
        say(f"database: restoring into {target} (SQLite backup API)…")
        _sqlite_copy(unpacked / SQLITE_MEMBER, target)
        return
    tool = _pg_tool("pg_restore")
    with engine.connect() as connection:
        _pg_check_version(tool, connection)
    say("database: pg_restore --clean --if-exists --no-owner…")
    args, env = _pg_connection_args(engine.url)
    command = [tool, "--clean", "--if-exists", "--no-owner", "--single-transaction", *args]
    _run([*command, str(unpacked / PG_MEMBER)], env)
    engine.dispose()


def restore(path: Path, *, yes: bool = False, say: Say = print) -> dict:
    """Restore the archive at `path` into this instance's database and folders; the row counts
    restored (equal to the archive's, else an error)."""
    engine = db.engine
    with tempfile.TemporaryDirectory(prefix="lms-restore-") as tmp:
        unpacked = Path(tmp)
        say(f"archive: reading and checking {path}…")
        manifest = read_archive(Path(path), unpacked)
        say(f"archive: made {manifest['created_at']}, {len(manifest['members'])} members intact")
        kind = database_kind(engine)
        if manifest["database"] != kind:
            raise OpsError(
                f"the archive holds a {manifest['database']} database and this instance uses "
                f"{kind}: restore it into a {manifest['database']} database"
            )
        revision = manifest.get("alembic_revision")
        known, heads = known_revisions()
        if revision is not None and revision not in known:
            raise OpsError(
                f"the archive's database is at revision {revision}, newer than this code knows: "
                "restore it with the version of the LMS that made it (or a newer one)"
            )
        with engine.connect() as connection:
            current = row_counts(connection)
        # A database just made by `flask db upgrade` has its alembic revision and nothing else.
        rows = sum(count for table, count in current.items() if table != "alembic_version")
        if rows and not yes:
            raise OpsError(
                f"the database is not empty ({rows} rows): run again with --yes to replace it "
                "with the archive's"
            )
        _restore_database(engine, unpacked, manifest, say)
        for prefix, folder, mode in (
            ("storage/", storage_dir(), None),
            ("keys/", signing.key_dir(), 0o600),
        ):
            names = [name for name in manifest["members"] if name.startswith(prefix)]
            say(f"{prefix.rstrip('/')}: restoring {len(names)} files into {folder}…")
            for name in names:
                _install(unpacked / name, folder / name.removeprefix(prefix), mode)
            if mode == 0o600 and folder.is_dir():
                folder.chmod(0o700)
        if SECRET_MEMBER in manifest["members"]:
            _install(unpacked / SECRET_MEMBER, secret_key_path(), 0o600)
            say(f"secret key: restored to {secret_key_path()}")
            if secret_key_from_environment():
                say("secret key: LMS_SECRET_KEY is set in the environment and is used instead")
        else:
            say("secret key: not in the archive: set LMS_SECRET_KEY to the original instance's")
    with engine.connect() as connection:
        counts = row_counts(connection)
    for table, count in counts.items():
        say(f"  {table}: {count}")
    if counts != manifest["row_counts"]:
        differ = sorted(
            t
            for t in set(counts) | set(manifest["row_counts"])
            if counts.get(t) != manifest["row_counts"].get(t)
        )
        raise OpsError(f"restored row counts differ from the archive's in: {', '.join(differ)}")
    say(f"database: {sum(counts.values())} rows in {len(counts)} tables, as in the archive")
    if revision is not None and revision not in heads:
        say(f"database: at revision {revision}: run `flask db upgrade` to bring it up to date")
    return counts


# --- check ----------------------------------------------------------------------------------------


def check(say: Say = print) -> list[str]:
    """Problems that stop the instance from signing as it did: missing signing keys of
    consortia that have signed certificates, and keys that differ from the one that signed."""
    problems = []
    for consortium, path, signed, other in signing.key_report():
        if not path.is_file():
            problems.append(
                f"consortium {consortium.code}: signing key {path} is missing and {signed} "
                "certificates were signed with it: restore it from the backup"
            )
        elif other:
            say(
                f"consortium {consortium.code}: {other} of {signed} certificates were signed by "
                "another key than the current one (the key was replaced)"
            )
        else:
            say(f"consortium {consortium.code}: signing key present ({signed} certificates)")
    for problem in problems:
        say(f"PROBLEM: {problem}")
    return problems
