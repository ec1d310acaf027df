"""Settings, loaded from `conf/<env>.toml` with environment overrides and injected everywhere.

Nothing here is global: `load_settings()` returns a frozen `Settings` that jobs pass down. Secrets never
live in `conf/`; credentials come from the environment or a token file outside the repository.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from datetime import date
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ENV = "local"


def _beside_or_packaged(folder: str) -> Traversable:
    """`<checkout>/<folder>`, or the copy packed inside the library zip that spark-submit.sh ships."""
    beside = REPO_ROOT / folder
    if beside.is_dir():
        return beside
    return resources.files("lakehouse") / f"_{folder}"


CONF_DIR = _beside_or_packaged("conf")
SCHEMAS_DIR = _beside_or_packaged("schemas")


class ConfigError(ValueError):
    """A settings file or override is missing or malformed."""


@dataclass(frozen=True)
class SparkSettings:
    """How the local session is built (ignored under spark-submit and on Databricks)."""

    master: str = "local[2]"
    app_name: str = "fitness-lakehouse"
    shuffle_partitions: int = 8
    ui_enabled: bool = True
    driver_memory: str = "4g"
    extra_conf: dict[str, str] = field(default_factory=dict)
    # Tables a stage builds at once (threads of the driver sharing the session; also under spark-submit and
    # on Databricks). Most of a small table's time is the driver planning queries and committing to Delta,
    # which one thread does on one core: two builds at once keep two cores busy. 1: one table at a time.
    table_threads: int = 2
    # Extra options for the local session's JVM (`[spark] java_options`), after the ones the factory sets.
    java_options: tuple[str, ...] = ()


@dataclass(frozen=True)
class S3Settings:
    """Where S3 lives: AWS by default, or an S3-compatible endpoint (path-style addressing)."""

    endpoint_url: str | None = None
    path_style: bool = False
    region: str = "us-east-1"


@dataclass(frozen=True)
class MetastoreSettings:
    """Where table names live outside a catalog (see `lakehouse.metastore`)."""

    mode: str = "local"  # "local": a Derby network server per lakehouse; "external": the cluster's own metastore
    host: str = "127.0.0.1"
    port: int = 0  # 0: derived from the metastore's folder, so each lakehouse on a machine gets its own
    folder: str | None = None  # default: <tables_root>/_metastore (tables on local disk) or .cache/metastore/


@dataclass(frozen=True)
class SqlServerSettings:
    """The JDBC/ODBC endpoint (`python -m jobs.sql_server`): Spark's Thrift server, on loopback by default."""

    host: str = "127.0.0.1"
    port: int = 10000  # the Hive/Spark Thrift server's usual port; $LAKEHOUSE_SQL_SERVER_PORT overrides
    driver_memory: str = "1g"


@dataclass(frozen=True)
class SampleSettings:
    """Size and shape of the generated demo data set; the same seed gives the same bytes."""

    seed: int = 42
    start_date: date = date(2021, 1, 1)
    end_date: date = date(2024, 12, 31)
    athlete_ids: tuple[int, ...] = (1021301,)
    dog_era_start: date = date(2023, 6, 1)
    fitbit_user_id: str = "7QXKBZ"
    fitbit_days: int = 21
    fitbit_timezone: str = "Europe/Amsterdam"
    mapmyrun_workouts: int = 240


@dataclass(frozen=True)
class AnalyticsSettings:
    """Constants of the gold analytics (METRICS.md). The physiology here is the default for a person whose
    entry in the people file does not give their own (a generic adult, not anybody's real values)."""

    event_date: date | None = None  # the before/after pivot ("the Choco effect"); none: no before/after
    hr_max: float = 190.0
    hr_rest: float = 60.0  # used on days without a Fitbit resting heart rate
    threshold_hr: float = 170.0  # lactate threshold heart rate, for TRIMP(100)
    trimp_k: float = 1.92  # Banister's k: 1.92 men, 1.67 women
    ctl_days: int = 42
    atl_days: int = 7
    weekly_target: float = 4.0  # workouts per week for a full consistency frequency score
    kmeans_k: int = 3  # clusters of the workout classification


@dataclass(frozen=True)
class Person:
    """One person across sources (the people file): who they are in each source, and their physiology.

    Unset physiology falls back to `[analytics]`; an unset time zone is UTC (sources that give a UTC offset
    per sample do not need one).
    """

    id: str
    name: str = ""
    strava_athlete_id: int | None = None
    fitbit_user_ids: tuple[str, ...] = ()  # Fitbit user ids / Google Health user keys
    mapmyrun_files: tuple[str, ...] = ()  # glob patterns of the landed MapMyRun export file names
    timezone: str = "UTC"
    hr_max: float | None = None
    hr_rest: float | None = None
    threshold_hr: float | None = None
    trimp_k: float | None = None
    event_date: date | None = None
    weekly_target: float | None = None


@dataclass(frozen=True)
class RaceSettings:
    """The Tour de France race data: what the race job generates, and how the stream treats late points."""

    seed: int = 2024
    riders: int = 88  # riders with telemetry (about half the peloton)
    stages: tuple[int, ...] = tuple(range(1, 22))  # stages `jobs.race` builds by default: the full Tour
    distance_scale: float = 1.0  # 1.0 = real stage lengths; smaller shortens every stage (demo, tests)
    pipeline_stages: tuple[int, ...] = (4, 6, 9)  # the main job's small race: flat, time trial, mountain
    pipeline_distance_scale: float = 0.1
    file_seconds: int = 600  # race seconds of telemetry per landed file
    max_file_rows: int = 250_000  # larger windows are split, so files stay bounded
    watermark_minutes: float = 30.0  # the stream drops points arriving later than this behind the newest
    trigger_seconds: float = 1.0  # processing-time trigger of the live stream


@dataclass(frozen=True)
class ImportSettings:
    """Export files the own-data run imports at its ingest stage (globs; ~ expanded); each file once."""

    mapmyrun: tuple[str, ...] = ()  # MapMyRun workout_history CSVs
    strava_archive: tuple[str, ...] = ()  # Strava "Download your data" zips or folders
    takeout: tuple[str, ...] = ()  # Google Takeout zips or folders


@dataclass(frozen=True)
class DashboardSettings:
    """The dashboard's optional OpenAI-compatible endpoint for race questions (its key: $LAKEHOUSE_LLM_API_KEY)."""

    llm_url: str | None = None  # e.g. http://localhost:11434/v1 ($LAKEHOUSE_LLM_URL)
    llm_model: str | None = None  # ($LAKEHOUSE_LLM_MODEL)


@dataclass(frozen=True)
class Settings:
    """Everything a job needs to know about where data lives and how to run."""

    env: str
    landing_root: str
    tables_root: str
    catalog: str | None = None
    spark: SparkSettings = field(default_factory=SparkSettings)
    s3: S3Settings = field(default_factory=S3Settings)
    metastore: MetastoreSettings = field(default_factory=MetastoreSettings)
    sql_server: SqlServerSettings = field(default_factory=SqlServerSettings)
    sample: SampleSettings = field(default_factory=SampleSettings)  # the demo's generated data only
    analytics: AnalyticsSettings = field(default_factory=AnalyticsSettings)
    race: RaceSettings = field(default_factory=RaceSettings)
    people: tuple[Person, ...] = ()  # who is who across sources (conf/people.toml)
    imports: ImportSettings = field(default_factory=lambda: ImportSettings())
    log_dir: str = ""  # where jobs keep their log files (local path); empty: <checkout>/data/logs
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)
    webhook_url: str | None = None  # Slack-compatible, from $LAKEHOUSE_WEBHOOK_URL: a secret, never in conf/
    schemas_dir: Traversable = SCHEMAS_DIR

    def with_roots(self, landing_root: str | None = None, tables_root: str | None = None) -> Settings:
        """A copy with other landing or table roots (for tests and one-off runs)."""
        return replace(
            self,
            landing_root=landing_root or self.landing_root,
            tables_root=tables_root or self.tables_root,
        )


def _resolve_root(value: str, base: Path) -> str:
    """Resolve a relative local path against `base`; URIs (s3://, s3a://, dbfs:/ ...) pass through."""
    if "://" in value or value.startswith("dbfs:"):
        return value.rstrip("/")
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = base / path
    return str(path.resolve())


def _as_date(value: Any, key: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ConfigError(f"{key}: expected a date like 2024-05-01, got {value!r}") from exc


def _optional_date(value: Any, key: str) -> date | None:
    return None if value in (None, "") else _as_date(value, key)


def _as_list(value: Any, key: str) -> list[Any]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list, got {value!r}")
    return value


PERSON_KEYS = {
    "id", "name", "strava_athlete_id", "fitbit_user_id", "fitbit_user_ids", "google_user", "mapmyrun_files",
    "timezone", "hr_max", "hr_rest", "threshold_hr", "trimp_k", "event_date", "weekly_target",
}  # fmt: skip


def _person(raw: Any, where: str) -> Person:
    """One `[[person]]` table."""
    if not isinstance(raw, dict) or not raw.get("id"):
        raise ConfigError(f"{where}: every [[person]] needs an id (a short name such as \"ana\")")
    unknown = sorted(set(raw) - PERSON_KEYS)
    if unknown:
        raise ConfigError(f"{where}: person {raw['id']!r}: unknown key(s) {', '.join(unknown)}")
    pid = str(raw["id"])

    def number(key: str) -> float | None:
        value = raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: person {pid!r}: {key} must be a number, got {value!r}")
        return float(value)

    zone = str(raw.get("timezone", "UTC"))
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(zone)
    except Exception as exc:
        raise ConfigError(f"{where}: person {pid!r}: unknown time zone {zone!r}") from exc
    fitbit_ids = [*_as_list(raw.get("fitbit_user_ids", []), "fitbit_user_ids")]
    fitbit_ids += [raw[k] for k in ("fitbit_user_id", "google_user") if raw.get(k)]
    athlete = raw.get("strava_athlete_id")
    return Person(
        id=pid,
        name=str(raw.get("name", "")),
        strava_athlete_id=int(athlete) if athlete not in (None, "") else None,
        fitbit_user_ids=tuple(dict.fromkeys(str(u) for u in fitbit_ids)),
        mapmyrun_files=tuple(str(x) for x in _as_list(raw.get("mapmyrun_files", []), "mapmyrun_files")),
        timezone=zone,
        hr_max=number("hr_max"),
        hr_rest=number("hr_rest"),
        threshold_hr=number("threshold_hr"),
        trimp_k=number("trimp_k"),
        event_date=_optional_date(raw.get("event_date"), f"person {pid}.event_date"),
        weekly_target=number("weekly_target"),
    )


def _people(raw: dict[str, Any], base: Path, environ: dict[str, str]) -> tuple[Person, ...]:
    """`[[person]]` tables of the settings file, plus those of the people file: $LAKEHOUSE_PEOPLE (relative: from
    the working directory, else from `conf/`), which must exist, or else the settings file's `people_file`
    (relative: from `conf/`), which may be missing: then there are no configured people."""
    entries: list[tuple[Any, str]] = [(p, "settings") for p in raw.get("person", [])]
    conf = base / "conf" if (base / "conf").is_dir() else base
    path: Path | None = None
    if environ.get("LAKEHOUSE_PEOPLE"):
        given = Path(environ["LAKEHOUSE_PEOPLE"]).expanduser()
        tried = [given] if given.is_absolute() else [Path.cwd() / given, conf / given]
        path = next((p for p in tried if p.is_file()), None)
        if path is None:
            raise ConfigError(
                f"LAKEHOUSE_PEOPLE={environ['LAKEHOUSE_PEOPLE']}: no such file ({' nor '.join(map(str, tried))}); "
                "point it at your people file, or unset it"
            )
    elif raw.get("people_file"):
        path = Path(str(raw["people_file"])).expanduser()
        path = path if path.is_absolute() else conf / path
    if path is not None and path.is_file():
        entries += [(p, str(path)) for p in _read_toml(path).get("person", [])]
    people = tuple(_person(p, where) for p, where in entries)
    seen: dict[str, str] = {}
    for person in people:
        for key in (person.id, *(f"strava:{person.strava_athlete_id}",) * bool(person.strava_athlete_id),
                    *(f"fitbit:{u}" for u in person.fitbit_user_ids)):  # fmt: skip
            if key in seen:
                raise ConfigError(f"people: {key} belongs to two people ({seen[key]!r} and {person.id!r})")
            seen[key] = person.id
    return people


def _read_toml(path: Traversable) -> dict[str, Any]:
    """A settings or people file. A byte-order mark (Windows editors save UTF-8 with one) is skipped; a file that is
    not UTF-8 or not TOML is a `ConfigError` naming it."""
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text (save it as UTF-8)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def _section(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] must be a table")
    return value


def _race_settings(raw: dict[str, Any]) -> RaceSettings:
    """The `[race]` section; every key is optional."""
    d = RaceSettings()
    race = RaceSettings(
        seed=int(raw.get("seed", d.seed)),
        riders=int(raw.get("riders", d.riders)),
        stages=tuple(int(s) for s in raw.get("stages", d.stages)),
        distance_scale=float(raw.get("distance_scale", d.distance_scale)),
        pipeline_stages=tuple(int(s) for s in raw.get("pipeline_stages", d.pipeline_stages)),
        pipeline_distance_scale=float(raw.get("pipeline_distance_scale", d.pipeline_distance_scale)),
        file_seconds=int(raw.get("file_seconds", d.file_seconds)),
        max_file_rows=int(raw.get("max_file_rows", d.max_file_rows)),
        watermark_minutes=float(raw.get("watermark_minutes", d.watermark_minutes)),
        trigger_seconds=float(raw.get("trigger_seconds", d.trigger_seconds)),
    )
    bad = [s for s in (*race.stages, *race.pipeline_stages) if not 1 <= s <= 21]
    if bad:
        raise ConfigError(f"race stages must be 1..21, got {bad}")
    if race.riders < 1 or race.distance_scale <= 0 or race.pipeline_distance_scale <= 0:
        raise ConfigError("race.riders and the race distance scales must be positive")
    return race


def _build(raw: dict[str, Any], env: str, base: Path, environ: dict[str, str]) -> Settings:
    paths = _section(raw, "paths")

    def path_of(variable: str, configured: Any, default: str) -> str:
        """$variable, relative to the working directory (typed by the user where they are); else the settings
        file's value, or `default`, relative to `base` (the checkout)."""
        if environ.get(variable):
            return _resolve_root(environ[variable], Path.cwd())
        return _resolve_root(str(configured or default), base)

    root = path_of("LAKEHOUSE_ROOT", paths.get("root"), "data")
    landing = path_of("LAKEHOUSE_LANDING_ROOT", paths.get("landing"), f"{root}/landing")
    tables = path_of("LAKEHOUSE_TABLES_ROOT", paths.get("tables"), f"{root}/tables")

    spark_raw = _section(raw, "spark")
    spark = SparkSettings(
        master=environ.get("LAKEHOUSE_SPARK_MASTER") or spark_raw.get("master", "local[2]"),
        app_name=spark_raw.get("app_name", "fitness-lakehouse"),
        shuffle_partitions=int(spark_raw.get("shuffle_partitions", 8)),
        ui_enabled=bool(spark_raw.get("ui_enabled", True)),
        driver_memory=str(spark_raw.get("driver_memory", "4g")),
        extra_conf={str(k): str(v) for k, v in _section(spark_raw, "conf").items()},
        table_threads=int(environ.get("LAKEHOUSE_TABLE_THREADS") or spark_raw.get("table_threads", 2)),
        java_options=tuple(str(option) for option in _as_list(spark_raw.get("java_options", []), "spark.java_options")),
    )
    if spark.table_threads < 1:
        raise ConfigError(f"spark.table_threads must be 1 or more, got {spark.table_threads}")

    s3_raw = _section(raw, "s3")
    s3 = S3Settings(
        endpoint_url=environ.get("LAKEHOUSE_S3_ENDPOINT_URL") or s3_raw.get("endpoint_url") or None,
        path_style=bool(s3_raw.get("path_style", False)) or environ.get("LAKEHOUSE_S3_PATH_STYLE") == "1",
        region=environ.get("AWS_DEFAULT_REGION") or s3_raw.get("region", "us-east-1"),
    )

    metastore_raw = _section(raw, "metastore")
    metastore = MetastoreSettings(
        mode=environ.get("LAKEHOUSE_METASTORE") or str(metastore_raw.get("mode", "local")),
        host=str(metastore_raw.get("host", "127.0.0.1")),
        port=int(metastore_raw.get("port", 0)),
        folder=_resolve_root(str(metastore_raw["folder"]), base) if metastore_raw.get("folder") else None,
    )
    if metastore.mode not in ("local", "external"):
        raise ConfigError(f"metastore.mode must be 'local' or 'external', got {metastore.mode!r}")

    server_raw = _section(raw, "sql_server")
    sql_server = SqlServerSettings(
        host=str(server_raw.get("host", "127.0.0.1")),
        port=int(environ.get("LAKEHOUSE_SQL_SERVER_PORT") or server_raw.get("port", 10000)),
        driver_memory=str(server_raw.get("driver_memory", "1g")),
    )

    sample_raw = _section(raw, "sample")
    defaults = SampleSettings()
    sample = SampleSettings(
        seed=int(sample_raw.get("seed", defaults.seed)),
        start_date=_as_date(sample_raw.get("start_date", defaults.start_date), "sample.start_date"),
        end_date=_as_date(sample_raw.get("end_date", defaults.end_date), "sample.end_date"),
        athlete_ids=tuple(int(a) for a in sample_raw.get("athlete_ids", defaults.athlete_ids)),
        dog_era_start=_as_date(
            sample_raw.get("dog_era_start", defaults.dog_era_start), "sample.dog_era_start"
        ),
        fitbit_user_id=str(sample_raw.get("fitbit_user_id", defaults.fitbit_user_id)),
        fitbit_days=int(sample_raw.get("fitbit_days", defaults.fitbit_days)),
        fitbit_timezone=str(sample_raw.get("fitbit_timezone", defaults.fitbit_timezone)),
        mapmyrun_workouts=int(sample_raw.get("mapmyrun_workouts", defaults.mapmyrun_workouts)),
    )
    if sample.end_date < sample.start_date:
        raise ConfigError("sample.end_date is before sample.start_date")

    analytics_raw = _section(raw, "analytics")
    base_analytics = AnalyticsSettings()
    analytics = AnalyticsSettings(
        event_date=_optional_date(analytics_raw.get("event_date"), "analytics.event_date"),
        **{
            name: type(getattr(base_analytics, name))(analytics_raw.get(name, getattr(base_analytics, name)))
            for name in (
                "hr_max",
                "hr_rest",
                "threshold_hr",
                "trimp_k",
                "ctl_days",
                "atl_days",
                "weekly_target",
                "kmeans_k",
            )
        },
    )
    race = _race_settings(_section(raw, "race"))
    people = _people(raw, base, environ)
    imports_raw = _section(raw, "imports")
    imports = ImportSettings(**{
        name: tuple(str(x) for x in _as_list(imports_raw.get(name, []), f"imports.{name}"))
        for name in ("mapmyrun", "strava_archive", "takeout")
    })  # fmt: skip
    catalog = environ.get("LAKEHOUSE_CATALOG") or raw.get("catalog") or None
    dashboard_raw = _section(raw, "dashboard")
    dashboard = DashboardSettings(
        llm_url=environ.get("LAKEHOUSE_LLM_URL") or dashboard_raw.get("llm_url") or None,
        llm_model=environ.get("LAKEHOUSE_LLM_MODEL") or dashboard_raw.get("llm_model") or None,
    )
    return Settings(
        env=env,
        landing_root=landing,
        tables_root=tables,
        catalog=catalog,
        spark=spark,
        s3=s3,
        metastore=metastore,
        sql_server=sql_server,
        sample=sample,
        analytics=analytics,
        race=race,
        people=people,
        imports=imports,
        log_dir=path_of("LAKEHOUSE_LOG_DIR", paths.get("logs"), "data/logs"),
        dashboard=dashboard,
        webhook_url=environ.get("LAKEHOUSE_WEBHOOK_URL") or None,
    )


def load_settings(
    env: str | None = None,
    conf_dir: Traversable = CONF_DIR,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Read `conf/<env>.toml` (env defaults to $LAKEHOUSE_ENV or "local"), then apply LAKEHOUSE_* overrides.

    Example: `load_settings("test", environ={"LAKEHOUSE_ROOT": "/tmp/lake"})`.
    """
    environ = dict(os.environ) if environ is None else environ
    env = env or environ.get("LAKEHOUSE_ENV") or DEFAULT_ENV
    path = conf_dir / f"{env}.toml"
    if not path.is_file():
        known = sorted(p.name.removesuffix(".toml") for p in conf_dir.iterdir() if p.name.endswith(".toml"))
        raise ConfigError(f"no settings for env {env!r}: {path} does not exist (known: {', '.join(known)})")
    raw = _read_toml(path)
    # Relative paths are relative to the checkout, or to the working directory when run from a zip.
    base = REPO_ROOT if (REPO_ROOT / "conf").is_dir() else Path.cwd()
    return _build(raw, env, base, environ)
