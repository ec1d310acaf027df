"""Who is who: the people file and the identities found in the data -> silver.people rows (plain Python)."""

from __future__ import annotations

from datetime import date

import pytest

from lakehouse.config import AnalyticsSettings, ConfigError, Person, load_settings
from lakehouse.people import glob_regex, resolve_people

DEFAULTS = AnalyticsSettings(hr_max=190, hr_rest=60, event_date=None)


def by_id(rows: list[tuple]) -> dict[str, tuple]:
    return {row[0]: row for row in rows}


def test_one_configured_person_owns_every_identity_in_the_data() -> None:
    rows = by_id(resolve_people([Person("ana", hr_max=185)], DEFAULTS, strava_athletes=[7, 9], fitbit_users=["U1"]))
    assert list(rows) == ["ana"]
    ana = rows["ana"]
    assert ana[3] == [7, 9] and ana[4] == ["U1"] and ana[5] == ["*"]
    assert (ana[7], ana[8]) == (185.0, 60.0)  # her HR max, the default resting HR


def test_the_sole_person_also_owns_exports_their_patterns_do_not_name() -> None:
    (ana,) = resolve_people([Person("ana", mapmyrun_files=("ana_*.csv",))], DEFAULTS)
    assert ana[5] == ["ana_*.csv", "*"]


def test_with_several_people_an_unclaimed_identity_is_a_person_of_its_own() -> None:
    people = [Person("ana", strava_athlete_id=7, fitbit_user_ids=("U1",)), Person("ben", strava_athlete_id=8)]
    rows = by_id(resolve_people(people, DEFAULTS, strava_athletes=[7, 8, 9], fitbit_users=["U1", "U2"],
                                unclaimed_mapmyrun=True))  # fmt: skip
    assert sorted(rows) == ["ana", "ben", "fitbit-U2", "mapmyrun", "strava-9"]
    assert rows["ana"][3] == [7] and rows["ben"][3] == [8] and rows["strava-9"][3] == [9]
    assert rows["strava-9"][2] is False and rows["ana"][2] is True  # configured or not
    assert rows["ben"][11] is None  # no event date: no before/after for him


def test_the_people_file_is_read_and_checked(tmp_path) -> None:
    people = tmp_path / "people.toml"
    people.write_text('[[person]]\nid = "ana"\nstrava_athlete_id = 7\nevent_date = "2024-03-15"\n'
                      'timezone = "Europe/Madrid"\nhr_max = 186\n')  # fmt: skip
    settings = load_settings("local", environ={"LAKEHOUSE_PEOPLE": str(people), "LAKEHOUSE_ROOT": str(tmp_path)})
    assert settings.people == (Person("ana", strava_athlete_id=7, timezone="Europe/Madrid", hr_max=186.0,
                                      event_date=date(2024, 3, 15)),)  # fmt: skip
    for text, message in (
        ('[[person]]\nid = "a"\nstrava_athlete_id = 7\n[[person]]\nid = "b"\nstrava_athlete_id = 7\n', "two people"),
        ('[[person]]\nid = "a"\nhrmax = 180\n', "unknown key"),
        ('[[person]]\nid = "a"\ntimezone = "Mars/Olympus"\n', "unknown time zone"),
        ('[[person]]\nname = "no id"\n', "needs an id"),
    ):
        people.write_text(text)
        with pytest.raises(ConfigError, match=message):
            load_settings("local", environ={"LAKEHOUSE_PEOPLE": str(people), "LAKEHOUSE_ROOT": str(tmp_path)})


def test_a_missing_people_file_of_the_settings_means_no_configured_people(tmp_path) -> None:
    (tmp_path / "mine.toml").write_text(f'people_file = "{tmp_path / "none.toml"}"\n')
    settings = load_settings("mine", tmp_path, environ={"LAKEHOUSE_ROOT": str(tmp_path)})
    assert settings.people == ()


def test_a_people_file_named_in_the_environment_must_exist(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"LAKEHOUSE_PEOPLE=my-people.toml: no such file \("):
        load_settings("local", environ={"LAKEHOUSE_PEOPLE": "my-people.toml", "LAKEHOUSE_ROOT": str(tmp_path)})
    with pytest.raises(ConfigError, match="no such file"):
        load_settings("local", environ={"LAKEHOUSE_PEOPLE": str(tmp_path / "typo.toml")})


def test_a_relative_people_file_in_the_environment_is_found_where_the_command_runs(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my-people.toml").write_text('[[person]]\nid = "ana"\nstrava_athlete_id = 7\n')
    monkeypatch.chdir(tmp_path)
    settings = load_settings("local", environ={"LAKEHOUSE_PEOPLE": "my-people.toml", "LAKEHOUSE_ROOT": "lake"})
    assert [p.id for p in settings.people] == ["ana"]
    empty = tmp_path / "empty.toml"
    empty.write_text("")  # how to say "nobody configured" whatever conf/ holds
    assert load_settings("local", environ={"LAKEHOUSE_PEOPLE": str(empty)}).people == ()
    assert settings.analytics.event_date is None  # real-data settings carry no sample dates


def test_a_people_file_saved_by_a_windows_editor_is_read_and_one_in_utf16_is_a_clear_error(tmp_path) -> None:
    people = tmp_path / "people.toml"
    people.write_bytes(b'\xef\xbb\xbf[[person]]\r\nid = "ana"\r\ntimezone = "Europe/Madrid"\r\n')  # BOM, CRLF
    settings = load_settings("local", environ={"LAKEHOUSE_PEOPLE": str(people), "LAKEHOUSE_ROOT": str(tmp_path)})
    assert [(p.id, p.timezone) for p in settings.people] == [("ana", "Europe/Madrid")]
    people.write_bytes('[[person]]\r\nid = "ana"\r\n'.encode("utf-16"))  # Notepad's "Unicode"
    with pytest.raises(ConfigError, match=r"people.toml: not UTF-8 text"):
        load_settings("local", environ={"LAKEHOUSE_PEOPLE": str(people), "LAKEHOUSE_ROOT": str(tmp_path)})


def test_a_settings_file_with_a_byte_order_mark_is_read(tmp_path) -> None:
    (tmp_path / "mine.toml").write_bytes(b'\xef\xbb\xbf[spark]\nmaster = "local[1]"\n')
    assert load_settings("mine", tmp_path, environ={"LAKEHOUSE_ROOT": str(tmp_path)}).spark.master == "local[1]"


def test_export_globs_match_file_names_only_whole() -> None:
    import re

    assert re.search(glob_regex("JD_*"), "JD_workout_history_2021-01-31.csv")
    assert not re.search(glob_regex("JD_*"), "xJD_workout_history.csv")
