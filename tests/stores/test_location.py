"""The index-location protocol: both locations offer all of it, and the settings pick one."""

import inspect

import pytest

from rag.errors import IndexError_
from rag.settings import Settings
from rag.stores.location import Directory, IndexLocation, location
from rag.stores.pgstore import Postgres

MEMBERS = [name for name in vars(IndexLocation) if not name.startswith("_")] + ["name", "files_on_disk"]


@pytest.mark.parametrize("cls", [Directory, Postgres])
def test_each_location_offers_the_whole_protocol(cls):
    where = cls("/tmp/x") if cls is Directory else cls("postgresql://u:pw@db:5432/rag")
    for name in MEMBERS:
        assert hasattr(where, name), f"{cls.__name__} lacks {name}"
        if callable(getattr(IndexLocation, name, None)):
            ours = inspect.signature(getattr(IndexLocation, name))
            theirs = inspect.signature(getattr(cls, name))
            assert list(ours.parameters) == list(theirs.parameters), name


@pytest.mark.parametrize("settings, kind, name", [
    (Settings(index_dir="/data/idx"), Directory, "/data/idx"),
    (Settings(store="postgresql://rag:secret@db:5432/rag"), Postgres, "postgresql://db:5432/rag"),
])
def test_settings_pick_the_location(settings, kind, name):
    where = location(settings)
    assert isinstance(where, kind) and where.name == name


def test_a_store_that_is_not_postgres_is_refused():
    with pytest.raises(IndexError_, match="PostgreSQL URL"):
        location(Settings(store="mysql://db/rag"))
