"""API configuration from environment variables and an optional YAML/TOML file.

Precedence (highest first): keyword arguments, ``LIFECIRCLE_*`` environment
variables, the config file, the defaults below. The file is given with
``load_config(path)`` / ``lifecircle serve --config FILE`` or the
``LIFECIRCLE_CONFIG`` variable.

Example file (TOML; YAML takes the same keys)::

    city = "demo"
    api_keys = ["change-me"]
    cors_origins = ["https://portal.example.gov.cn"]
    reads_require_key = false
    data_dir = "/var/lib/lifecircle"

    [limits]
    max_upload_bytes = 20_000_000
    max_features = 100_000

Environment variables: ``LIFECIRCLE_CITY``, ``LIFECIRCLE_API_KEYS`` (comma
separated), ``LIFECIRCLE_CORS_ORIGINS`` (comma separated),
``LIFECIRCLE_READS_REQUIRE_KEY``, ``LIFECIRCLE_DATA_DIR``, and limits as
``LIFECIRCLE_LIMITS__MAX_FEATURES`` etc.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from geo.errors import LifecircleError

__all__ = ["ApiConfig", "CityFiles", "ConfigError", "Limits", "load_config"]


class ConfigError(LifecircleError):
    """The configuration file or variables cannot be used (names the key)."""


class Limits(BaseModel):
    """Bounds on what one request may ask for (each is stated in the error when hit)."""

    max_upload_bytes: int = Field(20_000_000, gt=0, description="Largest request body / uploaded file in bytes (413 above).")
    max_features: int = Field(100_000, gt=0, description="Most features in one uploaded layer (413 above).")
    max_vertices_per_feature: int = Field(20_000, gt=0, description="Most vertices in one uploaded geometry (413 above).")
    max_vertices: int = Field(2_000_000, gt=0, description="Most vertices in one uploaded layer (413 above).")
    max_page_size: int = Field(10_000, gt=0, description="Largest `limit` of a paged GeoJSON request.")
    max_service_area_sources: int = Field(100, gt=0, description="Most points or facilities in one service-area request.")
    max_service_area_minutes: float = Field(60.0, gt=0, description="Longest walk of a service area in minutes.")
    max_service_area_m: float = Field(3000.0, gt=0, description="Longest walk of a service area in metres (minutes x speed).")
    sync_max_service_area_km2: float = Field(
        2.0, ge=0, description="Service-area requests whose sum over sources and times of (walk in km)^2 exceeds this run as jobs."
    )
    sync_max_cell_standards: int = Field(
        50_000, ge=0, description="Coverage runs with more cells x standards than this run as background jobs."
    )
    max_layers: int = Field(100, gt=0, description="Most uploaded layers kept per API key.")
    max_runs: int = Field(200, gt=0, description="Most coverage runs kept per API key (its oldest dropped first; never another key's).")
    max_queued_jobs: int = Field(32, gt=0, description="Most unfinished background jobs on the server, all keys together (429 above).")
    max_jobs_per_key: int = Field(4, gt=0, description="Most unfinished background jobs of one API key (429 above).")
    max_results_per_key: int = Field(100, gt=0, description="Most job results kept per API key (its oldest dropped first; never another key's).")
    job_memory_mb: float = Field(
        2048.0, gt=0, description="Memory one background job may use; larger work is refused up front, and a job passing it is stopped."
    )
    retry_after_s: int = Field(5, ge=1, description="The `Retry-After` seconds of a 429 for a full job queue.")
    open_requests_per_s: float = Field(
        50.0, ge=0, description="Requests per second one client address may make to endpoints open without a key (0: no limit; 429 above)."
    )
    open_burst: int = Field(100, gt=0, description="Requests a client address may make at once before `open_requests_per_s` applies.")


class CityFiles(BaseModel):
    """A city assembled from files instead of a built-in one (see ``layers.build.city_from_files``)."""

    grid: Path
    facilities: Path
    osm: Path | None = None
    network: Path | None = None
    coords: str | None = None
    crs: str | None = None
    name: str = "custom"


_config_file: ContextVar[Path | None] = ContextVar("lifecircle_config_file", default=None)


def _read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file {path}: not found")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        elif path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        else:
            raise ConfigError(f"config file {path}: use a .toml, .yaml or .yml file")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"config file {path}: cannot parse it: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: the top level must be a table/mapping of settings")
    return data


class _FileSource(PydanticBaseSettingsSource):
    """Settings from the YAML/TOML file named by :func:`load_config`."""

    def get_field_value(self, field, field_name):  # pragma: no cover - required by the ABC, unused
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = _config_file.get()
        return _read_file(path) if path is not None else {}


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class ApiConfig(BaseSettings):
    """Everything the API needs to know at startup.

    Attributes
    ----------
    city : str
        Built-in city to load (``demo`` or ``helsinki``) unless ``city_files`` is given.
    city_files : CityFiles, optional
        Build the city from layer files instead.
    api_keys : list of str
        Keys accepted in the ``X-API-Key`` header. Without any, write endpoints
        are refused (there is no anonymous write).
    reads_require_key : bool
        Whether read endpoints also need a key.
    cors_origins : list of str
        Browser origins (the planning portal) allowed to call the API.
    data_dir : pathlib.Path, optional
        Where scenarios, uploads, run outputs and job results are kept; by
        default the per-user data folder (platformdirs: ``~/.local/share/lifecircle``
        on Linux), logged at startup. Never a temporary folder: a restart
        keeps everything acknowledged.
    scenario_db_url : str, optional
        Database of scenarios and of the state every worker shares (jobs, job
        results, uploaded layers): ``postgresql+psycopg2://...`` for several
        workers or hosts, or ``sqlite:///file.db``; default a SQLite file
        ``scenarios.db`` in ``data_dir``.
    result_ttl_s : float
        Finished jobs, runs and uploaded layers are dropped this long after
        their last use.
    job_workers : int
        Background jobs run at once per server process (heavy ones each in a
        child process that cancelling ends).
    outside_margin_m : float
        Query points farther than this outside the city's boundary are refused.
    limits : Limits
    """

    model_config = SettingsConfigDict(env_prefix="LIFECIRCLE_", env_nested_delimiter="__", extra="forbid")

    city: str = "demo"
    city_files: CityFiles | None = None
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list, repr=False)
    reads_require_key: bool = False
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    data_dir: Path | None = None
    scenario_db_url: str | None = Field(None, repr=False)
    result_ttl_s: float = Field(24 * 3600.0, gt=0)
    job_workers: int = Field(2, ge=1, le=64)
    outside_margin_m: float = Field(300.0, ge=0)
    limits: Limits = Field(default_factory=Limits)

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("api_keys")
    @classmethod
    def _no_blank_keys(cls, value: list[str]) -> list[str]:
        if any(len(k) < 8 for k in value):
            raise ValueError("every API key must be at least 8 characters long")
        return value

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):
        return (init_settings, env_settings, _FileSource(settings_cls))


def load_config(path: str | os.PathLike | None = None, **overrides: Any) -> ApiConfig:
    """Read the configuration.

    Parameters
    ----------
    path : path-like, optional
        A ``.toml`` or ``.yaml`` file; defaults to ``$LIFECIRCLE_CONFIG`` if set.
    **overrides
        Settings that win over the environment and the file.

    Returns
    -------
    ApiConfig

    Raises
    ------
    ConfigError
        Unreadable file or an invalid setting (the message names it).
    """
    path = path if path is not None else os.environ.get("LIFECIRCLE_CONFIG")
    token = _config_file.set(Path(path) if path else None)
    try:
        return ApiConfig(**overrides)
    except ValidationError as exc:
        where = f"config file {path}" if path else "configuration"
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{where}: {problems}") from None
    finally:
        _config_file.reset(token)
