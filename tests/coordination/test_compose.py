"""docker-compose.yml gives every service what the production settings require.

Nothing here imports Django or the settings (production settings cannot be imported
without their environment): the settings files are read with ``ast`` and the compose
file with PyYAML, so this module runs with or without pytest-django.
"""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SETTINGS_DIR = ROOT / "coordination" / "settings"
PRODUCTION_SETTINGS = SETTINGS_DIR / "production.py"

SERVICES = ("web", "live", "worker", "beat", "db", "redis", "mailcatcher")
APP_SERVICES = ("web", "live", "worker", "beat")
SERVICES_WITH_HEALTHCHECK = ("web", "live", "worker", "db", "redis", "mailcatcher")
SERVICES_WITH_NAMED_VOLUME = ("db", "redis")

# django-environ reader methods whose default is the second positional argument, and
# those whose second positional argument is a cast (default third), as in
# environ.Env's signatures.
_DEFAULT_SECOND = {
    "str",
    "bytes",
    "bool",
    "int",
    "float",
    "json",
    "url",
    "path",
    "db",
    "db_url",
    "email",
    "email_url",
    "cache",
    "cache_url",
    "search_url",
    "channels",
    "channels_url",
}
_DEFAULT_THIRD = {"__call__", "list", "tuple", "dict", "get_value"}
# Readers whose variable name has a default of its own when none is given.
_DEFAULT_VARIABLE = {
    "db": "DATABASE_URL",
    "db_url": "DATABASE_URL",
    "email": "EMAIL_URL",
    "email_url": "EMAIL_URL",
    "cache": "CACHE_URL",
    "cache_url": "CACHE_URL",
    "search_url": "SEARCH_URL",
    "channels": "CHANNELS_URL",
    "channels_url": "CHANNELS_URL",
}


# --- helpers -------------------------------------------------------------------------


def load_compose(path: Path = COMPOSE_FILE) -> dict:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def required_environment(path: Path = PRODUCTION_SETTINGS) -> tuple[str, ...]:
    """The literal value of ``REQUIRED_ENVIRONMENT`` in the production settings."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        targets = []
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        if any(isinstance(t, ast.Name) and t.id == "REQUIRED_ENVIRONMENT" for t in targets):
            return tuple(ast.literal_eval(value))
    raise AssertionError(f"{path} defines no REQUIRED_ENVIRONMENT")


def _env_reader_names(tree: ast.Module) -> set[str]:
    """Names bound to a django-environ reader: ``env`` plus any ``X = environ.Env(...)``."""
    names = {"env"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            func_name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if func_name == "Env":
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def variables_without_default(source: str, filename: str = "<settings>") -> set[str]:
    """Environment variables that ``source`` reads with no default.

    Recognises django-environ reads (``env("X")``, ``env.str("X")``, ``env.list("X")``,
    ``env.db()`` and the like, without ``default=`` or a positional default) and
    ``os.environ["X"]``. A read whose variable name is not a string literal cannot be
    checked, so it is an error.
    """
    tree = ast.parse(source, filename=filename)
    readers = _env_reader_names(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and _is_os_environ(node.value):
            if not isinstance(node.ctx, ast.Load):
                continue
            key = node.slice
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                raise AssertionError(f"{filename}:{node.lineno}: os.environ[...] key not literal")
            found.add(key.value)
            continue
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in readers:
            method = "__call__"
        elif (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id in readers
        ):
            method = func.attr
        else:
            continue
        keywords = {k.arg for k in node.keywords}
        if "default" in keywords:
            continue
        default_index = 2 if method in _DEFAULT_THIRD else 1
        if len(node.args) > default_index:
            continue
        if node.args:
            var = node.args[0]
        else:
            var = next((k.value for k in node.keywords if k.arg == "var"), None)
        if var is None:
            if method not in _DEFAULT_VARIABLE:
                raise AssertionError(f"{filename}:{node.lineno}: env.{method}() names no variable")
            found.add(_DEFAULT_VARIABLE[method])
        elif isinstance(var, ast.Constant) and isinstance(var.value, str):
            found.add(var.value)
        else:
            raise AssertionError(f"{filename}:{node.lineno}: variable name is not a literal")
    return found


def settings_variables_without_default(settings_dir: Path = SETTINGS_DIR) -> dict[str, set[str]]:
    """For each settings module, the variables it reads without a default."""
    return {
        path.name: variables_without_default(path.read_text(encoding="utf-8"), str(path))
        for path in sorted(settings_dir.glob("*.py"))
    }


def service_environment(service: dict) -> dict[str, str | None]:
    """A service's ``environment`` as a mapping, whichever form the file uses."""
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        result: dict[str, str | None] = {}
        for item in environment:
            name, sep, value = str(item).partition("=")
            result[name] = value if sep else None
        return result
    return {str(name): None if value is None else str(value) for name, value in environment.items()}


def missing_variables(
    compose: dict, services: tuple[str, ...], required: set[str] | tuple[str, ...]
) -> dict[str, list[str]]:
    """For each service, the required variables its environment does not set.

    A variable counts as set when it has a non-empty value in the file (a value such as
    ``${X:?message}`` is fine: Compose refuses to start without it). A bare name, which
    would be passed through from the host if present, does not count.
    """
    missing: dict[str, list[str]] = {}
    for name in services:
        environment = service_environment(compose["services"].get(name) or {})
        absent = sorted(v for v in required if not environment.get(v))
        if absent:
            missing[name] = absent
    return missing


# --- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


@pytest.fixture(scope="module")
def required() -> set[str]:
    """Everything production needs: REQUIRED_ENVIRONMENT and every read without default."""
    names = set(required_environment())
    for variables in settings_variables_without_default().values():
        names |= variables
    return names


# --- the compose file ----------------------------------------------------------------


def test_compose_has_every_service(compose):
    assert "version" not in compose, "the Compose spec has no version key"
    assert set(SERVICES) <= set(compose["services"])


@pytest.mark.parametrize("name", SERVICES_WITH_HEALTHCHECK)
def test_service_has_healthcheck(compose, name):
    healthcheck = compose["services"][name].get("healthcheck")
    assert healthcheck, f"{name} has no healthcheck"
    assert healthcheck.get("test"), f"{name}'s healthcheck has no test"
    assert not healthcheck.get("disable"), f"{name}'s healthcheck is disabled"


@pytest.mark.parametrize("name", SERVICES_WITH_NAMED_VOLUME)
def test_stateful_service_uses_named_volume(compose, name):
    declared = set(compose.get("volumes") or {})
    sources = set()
    for volume in compose["services"][name].get("volumes") or []:
        source = volume.get("source") if isinstance(volume, dict) else volume.split(":", 1)[0]
        sources.add(source)
    assert sources & declared, f"{name} mounts none of the named volumes {sorted(declared)}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_uses_production_settings(compose, name):
    environment = service_environment(compose["services"][name])
    assert environment.get("DJANGO_SETTINGS_MODULE") == "coordination.settings.production"


def test_web_waits_for_healthy_database_and_broker(compose):
    depends_on = compose["services"]["web"]["depends_on"]
    for name in ("db", "redis"):
        assert depends_on[name]["condition"] == "service_healthy"


def test_app_services_set_every_required_variable(compose, required):
    assert missing_variables(compose, APP_SERVICES, required) == {}


def test_required_environment_lists_production_reads_without_default():
    """REQUIRED_ENVIRONMENT names every variable production (and base) cannot do without."""
    by_module = settings_variables_without_default()
    read = by_module.get("production.py", set()) | by_module.get("base.py", set())
    assert read <= set(required_environment()), sorted(read - set(required_environment()))


def test_required_environment_is_not_empty():
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL"} <= set(required_environment())


# --- the helpers catch what they are meant to ----------------------------------------


def test_missing_variables_reports_a_removed_variable(compose, required):
    victim = sorted(required)[0]
    broken = copy.deepcopy(compose)
    web_environment = service_environment(broken["services"]["web"])
    # Replace rather than mutate: YAML anchors share one mapping between services.
    broken["services"]["web"]["environment"] = {
        k: v for k, v in web_environment.items() if k != victim
    }
    assert missing_variables(broken, APP_SERVICES, required) == {"web": [victim]}
    assert missing_variables(compose, APP_SERVICES, required) == {}


def test_missing_variables_handles_list_form_and_pass_through():
    compose = {
        "services": {
            "web": {"environment": ["A=1", "B"]},
            "worker": {"environment": {"A": "1", "B": None}},
            "beat": {"environment": {"A": "", "B": "2"}},
        }
    }
    assert missing_variables(compose, ("web", "worker", "beat"), {"A", "B"}) == {
        "web": ["B"],
        "worker": ["B"],
        "beat": ["A"],
    }


def test_scanner_finds_reads_without_default():
    source = """
import os
import environ
env = environ.Env()
reader = environ.Env()
A = env.str("NEEDED_STR")
B = env("NEEDED_CALL")
C = env.list("NEEDED_LIST")
D = env.db()
E = env.email_url("NEEDED_EMAIL")
F = env.int("NEEDED_INT")
G = env.bool("NEEDED_BOOL")
H = reader.str("NEEDED_OTHER_READER")
I = os.environ["NEEDED_OS"]
J = env.list("NEEDED_LIST_WITH_CAST", str)
K = env.str(var="NEEDED_KEYWORD")
a = env.str("OPTIONAL_KW", default="")
b = env.str("OPTIONAL_POSITIONAL", "x")
c = env.list("OPTIONAL_LIST", str, [])
d = env("OPTIONAL_CALL", str, "x")
e = env.db("OPTIONAL_DB", default="sqlite://")
f = os.environ.get("OPTIONAL_OS")
g = os.getenv("OPTIONAL_GETENV")
h = env.bool("OPTIONAL_BOOL", default=False)
"""
    assert variables_without_default(source) == {
        "NEEDED_STR",
        "NEEDED_CALL",
        "NEEDED_LIST",
        "DATABASE_URL",
        "NEEDED_EMAIL",
        "NEEDED_INT",
        "NEEDED_BOOL",
        "NEEDED_OTHER_READER",
        "NEEDED_OS",
        "NEEDED_LIST_WITH_CAST",
        "NEEDED_KEYWORD",
    }


def test_scanner_rejects_computed_variable_names():
    with pytest.raises(AssertionError, match="not a literal"):
        variables_without_default('env.str("PREFIX_" + suffix)')


def test_scanner_sees_the_real_production_settings():
    found = settings_variables_without_default()["production.py"]
    assert "DJANGO_SECRET_KEY" in found
    assert "DJANGO_HSTS_SECONDS" not in found  # read with a default


def test_every_service_on_production_settings_sets_every_required_variable(compose, required):
    """Including one-shot services such as migrate."""
    on_production = tuple(
        name
        for name, service in compose["services"].items()
        if service_environment(service).get("DJANGO_SETTINGS_MODULE")
        == "coordination.settings.production"
    )
    assert set(APP_SERVICES) <= set(on_production)
    assert missing_variables(compose, on_production, required) == {}
