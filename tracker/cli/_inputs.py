"""What commands read before they run: settings, the catalog and DB a reader needs, dates."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from tracker.errors import ConfigError, WarehouseError

if TYPE_CHECKING:
    from tracker.config import Settings


def settings_of(db: str | None) -> Settings:
    """The settings of a command: environment, with ``--db`` over TRACKER_DB."""
    from tracker.config import load_settings

    return load_settings(db=db)


def reader_inputs(settings: Settings) -> None:
    """Check what a reader (`report`, `status`) needs: the catalog (a broken TRACKER_CATALOG
    fails here, as everywhere), then the DB (``require_db``)."""
    from tracker.runner import load_configured_catalog

    load_configured_catalog(settings)
    require_db(settings)


def require_db(settings: Settings) -> None:
    """Refuse a DB that does not exist (a typo in --db or TRACKER_DB): only `collect` creates
    one, so a reader never publishes an empty report or creates files. A DuckLake counts as
    existing when its catalog does (a PostgreSQL catalog is assumed to)."""
    from tracker.warehouse.db import target_exists

    if not target_exists(settings.db_target):
        what = "DuckLake catalog" if settings.lake is not None else "DuckDB file"
        label = settings.db_label
        raise WarehouseError(
            f"{label}: no such {what}; run `tracker collect --db {label}` first "
            "(or fix --db / TRACKER_DB)"
        )


def quiet_logs(quiet: bool) -> None:
    if quiet:
        from tracker.logging_setup import quiet_logging

        quiet_logging()


def fmt(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "never"


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--as-of {text!r}: expected a date as YYYY-MM-DD") from None
