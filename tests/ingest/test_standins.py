"""The stand-ins speak the contract (`API_CONTRACTS.md`): bodies, headers, paging, windows, token rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import requests
from ingest_support import generate_activities, realdata

from lakehouse.sources.clock import ManualClock
from lakehouse.standins.fitbit import FitbitStandin
from lakehouse.standins.strava import StravaLimits, StravaStandin

AUTHORIZATION_ERROR = {
    "message": "Authorization Error",
    "errors": [{"resource": "Application", "field": "", "code": "invalid"}],
}
RATE_LIMIT_EXCEEDED = {
    "message": "Rate Limit Exceeded",
    "errors": [{"resource": "Application", "field": "rate limit", "code": "exceeded"}],
}


def strava_token(standin: StravaStandin) -> str:
    """A fresh access token from the stand-in's token endpoint."""
    answer = requests.post(
        f"{standin.base_url}/oauth/token",
        data={
            "client_id": standin.client_id,
            "client_secret": standin.client_secret,
            "grant_type": "refresh_token",
            "refresh_token": standin.refresh_token,
        },
        timeout=5,
    )
    assert answer.status_code == 200
    return answer.json()["access_token"]


def test_strava_token_refresh_rotates_and_the_old_refresh_token_is_refused(clock: ManualClock) -> None:
    with StravaStandin([], clock=clock, refresh_token="first-refresh") as standin:
        form = {
            "client_id": standin.client_id,
            "client_secret": standin.client_secret,
            "grant_type": "refresh_token",
            "refresh_token": "first-refresh",
        }
        fresh = requests.post(f"{standin.base_url}/oauth/token", data=form, timeout=5)
        reused = requests.post(f"{standin.base_url}/oauth/token", data=form, timeout=5)
        bad_client = requests.post(
            f"{standin.base_url}/oauth/token", data={**form, "client_id": "1"}, timeout=5
        )

    body = fresh.json()
    assert set(body) == {"token_type", "access_token", "expires_at", "expires_in", "refresh_token"}
    assert body["token_type"] == "Bearer" and body["refresh_token"] != "first-refresh"
    assert body["expires_in"] == 6 * 3600
    assert body["expires_at"] == int(clock.now().timestamp()) + 6 * 3600
    assert reused.status_code == 400
    assert reused.json()["errors"][0]["field"] == "refresh_token"
    assert bad_client.json() == {
        "message": "Bad Request",
        "errors": [{"resource": "Application", "field": "client_id", "code": "invalid"}],
    }


def test_strava_401_body_and_access_token_expiry(clock: ManualClock) -> None:
    with StravaStandin([], clock=clock) as standin:
        url = f"{standin.base_url}/api/v3/athlete/activities"
        none = requests.get(url, timeout=5)
        token = strava_token(standin)
        ok = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
        clock.advance(timedelta(hours=6, seconds=1))
        expired = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)

    assert none.status_code == 401 and none.json() == AUTHORIZATION_ERROR
    assert ok.status_code == 200 and ok.json() == []
    assert expired.status_code == 401 and expired.json() == AUTHORIZATION_ERROR


def test_strava_list_pages_newest_first_with_default_30_and_a_200_cap(clock: ManualClock) -> None:
    data = generate_activities(450, datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))
    newest_first = [a["id"] for a in sorted(data, key=lambda a: (a["start_date"], a["id"]), reverse=True)]
    with StravaStandin(data, clock=clock) as standin:
        headers = {"Authorization": f"Bearer {strava_token(standin)}"}
        url = f"{standin.base_url}/api/v3/athlete/activities"

        def get(**params: object) -> list[dict]:
            return requests.get(url, params=params, headers=headers, timeout=5).json()

        default = get()
        capped = get(per_page=500, page=2)
        past_the_end = get(per_page=200, page=4)
        june = get(after=int(datetime(2024, 6, 1, tzinfo=UTC).timestamp()),
                   before=int(datetime(2024, 7, 1, tzinfo=UTC).timestamp()), per_page=200)  # fmt: skip

    assert [a["id"] for a in default] == newest_first[:30]
    assert [a["id"] for a in capped] == newest_first[200:400]
    assert past_the_end == []
    assert [a["id"] for a in june] == [
        a for a in newest_first if next(x for x in data if x["id"] == a)["start_date"].startswith("2024-06")
    ]


def test_strava_rate_limit_headers_windows_and_429(clock: ManualClock) -> None:
    limits = StravaLimits(short=200, daily=2000, read_short=10, read_daily=15)
    with StravaStandin([], clock=clock, limits=limits) as standin:
        headers = {"Authorization": f"Bearer {strava_token(standin)}"}
        url = f"{standin.base_url}/api/v3/athlete/activities"
        answers = [requests.get(url, headers=headers, timeout=5) for _ in range(11)]
        clock.set(datetime(2025, 3, 4, 9, 15, tzinfo=UTC))  # next 15-minute window
        after_window = [requests.get(url, headers=headers, timeout=5) for _ in range(15)]
        clock.set(datetime(2025, 3, 5, 0, 0, tzinfo=UTC))  # next day (and a new 6-hour token)
        next_day = requests.get(url, headers={"Authorization": f"Bearer {strava_token(standin)}"}, timeout=5)

    assert answers[0].headers["X-Readratelimit-Usage"] == "1,1"
    assert answers[0].headers["X-Readratelimit-Limit"] == "10,15"
    assert answers[0].headers["X-Ratelimit-Limit"] == "200,2000"
    assert [a.status_code for a in answers] == [200] * 10 + [429]
    assert answers[10].json() == RATE_LIMIT_EXCEEDED and "Retry-After" not in answers[10].headers
    assert after_window[0].status_code == 200 and after_window[0].headers["X-Readratelimit-Usage"] == "1,12"
    # 15 a day: the 429 counted too, so 4 more succeed and the rest of the day is refused
    assert [a.status_code for a in after_window] == [200] * 4 + [429] * 11
    assert after_window[-1].json() == RATE_LIMIT_EXCEEDED
    assert next_day.status_code == 200 and next_day.headers["X-Readratelimit-Usage"] == "1,1"


def test_strava_detail_and_streams_shapes(clock: ManualClock) -> None:
    data = generate_activities(3, datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC))
    with StravaStandin(data, clock=clock) as standin:
        headers = {"Authorization": f"Bearer {strava_token(standin)}"}
        base = f"{standin.base_url}/api/v3/activities"
        detail = requests.get(f"{base}/{data[0]['id']}", headers=headers, timeout=5)
        streams = requests.get(
            f"{base}/{data[0]['id']}/streams",
            params={"keys": "time,distance,heartrate,watts", "key_by_type": "true"},
            headers=headers,
            timeout=5,
        )
        only_distance = requests.get(
            f"{base}/{data[0]['id']}/streams?key_by_type=true", headers=headers, timeout=5
        )
        missing = requests.get(f"{base}/1", headers=headers, timeout=5)

    assert detail.json()["resource_state"] == 3 and "X-Readratelimit-Usage" in detail.headers
    assert detail.json()["id"] == data[0]["id"] and "laps" in detail.json()
    body = streams.json()
    assert isinstance(body, dict) and "watts" not in body  # no power data: left out, like Strava
    assert set(body["time"]) == {"data", "series_type", "original_size", "resolution"}
    assert "X-Readratelimit-Usage" not in streams.headers  # the recorded streams answer had none
    assert list(only_distance.json()) == ["distance"]
    assert missing.status_code == 404 and missing.json()["message"] == "Record Not Found"


def test_strava_replay_serves_the_recorded_pages_and_headers(clock: ManualClock) -> None:
    with StravaStandin.from_recording(
        realdata("strava", "all_athlete_activities.yml"), clock=clock
    ) as standin:
        headers = {"Authorization": f"Bearer {strava_token(standin)}"}
        url = f"{standin.base_url}/api/v3/athlete/activities"
        first = requests.get(url, params={"page": 1}, headers=headers, timeout=5)
        last = requests.get(url, params={"page": 39, "per_page": 200}, headers=headers, timeout=5)

    assert (
        first.headers["X-Ratelimit-Usage"] == "70,303"
        and first.headers["X-Readratelimit-Limit"] == "100,1000"
    )
    assert first.json()[0]["id"] == 16195505756 and len(first.json()) == 30
    assert last.json() == [] and last.headers["X-Readratelimit-Usage"] == "8,344"


def fitbit_refresh(standin: FitbitStandin, token: str) -> requests.Response:
    """A refresh with HTTP Basic client authentication."""
    return requests.post(
        f"{standin.base_url}/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": token},
        auth=(standin.client_id, standin.client_secret),
        timeout=5,
    )


def test_fitbit_refresh_tokens_are_single_use(clock: ManualClock) -> None:
    with FitbitStandin({}, clock=clock, refresh_token="fitbit-first") as standin:
        first = fitbit_refresh(standin, "fitbit-first")
        again = fitbit_refresh(standin, "fitbit-first")
        no_basic = requests.post(
            f"{standin.base_url}/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": standin.refresh_token},
            timeout=5,
        )

    assert set(first.json()) == {
        "access_token",
        "expires_in",
        "refresh_token",
        "scope",
        "token_type",
        "user_id",
    }
    assert first.json()["user_id"] == "7QXKBZ" and first.json()["expires_in"] == 28800
    assert again.status_code == 400
    assert again.json()["errors"][0]["errorType"] == "invalid_grant" and again.json()["success"] is False
    assert no_basic.status_code == 401 and no_basic.json()["errors"][0]["errorType"] == "invalid_client"


def test_fitbit_intraday_serves_the_given_body_with_rate_headers(clock: ManualClock) -> None:
    steps = json.loads(realdata("fitbit", "datadumpSteps.json").read_text())
    with FitbitStandin({"2017-08-02": {"steps": steps}}, clock=clock) as standin:
        token = fitbit_refresh(standin, standin.refresh_token).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        url = f"{standin.base_url}/1/user/-/activities/steps/date/2017-08-02/1d/1min.json"
        served = requests.get(url, headers=auth, timeout=5)
        empty = requests.get(url.replace("2017-08-02", "2017-08-03"), headers=auth, timeout=5)
        invalid = requests.get(url.replace("1min", "1sec"), headers=auth, timeout=5)
        clock.advance(timedelta(hours=8, seconds=1))
        expired = requests.get(url, headers=auth, timeout=5)

    assert served.json() == steps
    assert served.headers["Fitbit-Rate-Limit-Limit"] == "150"
    assert served.headers["Fitbit-Rate-Limit-Remaining"] == "149"
    assert served.headers["Fitbit-Rate-Limit-Reset"] == str(52 * 60 + 30)  # 09:07:30 -> 10:00
    assert empty.json()["activities-steps"] == [{"dateTime": "2017-08-03", "value": "0"}]
    assert empty.json()["activities-steps-intraday"]["dataset"] == []
    assert invalid.status_code == 400 and invalid.json()["errors"][0]["errorType"] == "validation"
    assert expired.status_code == 401 and expired.json()["errors"][0]["errorType"] == "expired_token"


def test_fitbit_150_an_hour_then_429(clock: ManualClock) -> None:
    with FitbitStandin({}, clock=clock) as standin:
        token = fitbit_refresh(standin, standin.refresh_token).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        url = f"{standin.base_url}/1/user/-/activities/floors/date/2024-05-01/1d/15min.json"
        answers = [requests.get(url, headers=auth, timeout=5) for _ in range(151)]
        clock.set(datetime(2025, 3, 4, 10, 0, tzinfo=UTC))
        next_hour = requests.get(url, headers=auth, timeout=5)

    assert [a.status_code for a in answers].count(200) == 150
    assert answers[-1].status_code == 429
    assert answers[-1].json() == {
        "errors": [{"errorType": "system", "fieldName": "n/a", "message": "Too Many Requests"}],
        "success": False,
    }
    assert next_hour.status_code == 200 and next_hour.headers["Fitbit-Rate-Limit-Remaining"] == "149"
