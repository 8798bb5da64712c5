"""The hosted claim page through Flask's test client: GET/POST /p/<slug>, on SQLite and PostgreSQL.

The browser tests (tests/browser) drive the same page in Chromium; these pin down each answer.
"""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest

from shared import pages
from shared.clock import utcnow
from tests.api.test_limits import LOOSE, assert_rate_limited, from_ip

EMAIL = "ada@example.com"


class PageVisit:
    """A browser-like visitor of one claim page: it keeps its cookie and the form's CSRF token."""

    def __init__(self, client, slug: str = "acme"):
        self.client = client
        self.slug = slug
        self.token = None

    def open(self, query: str = "", **kwargs):
        response = self.client.get(f"/p/{self.slug}{query}", **kwargs)
        self.remember_token(response)
        return response

    def remember_token(self, response) -> None:
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', response.get_data(as_text=True))
        if match:
            self.token = match[1]

    def claim(self, code: str, email: str = EMAIL, *, token: str | None = None, **kwargs):
        if self.token is None:
            self.open()
        data = {"csrf_token": self.token if token is None else token, "code": code, "email": email}
        response = self.client.post(f"/p/{self.slug}", data=data, **kwargs)
        self.remember_token(response)
        return response


def value_of(response, field: str) -> str:
    match = re.search(rf'<input id="{field}" name="{field}" value="([^"]*)"', response.get_data(as_text=True))
    assert match, f"no {field} input"
    return html.unescape(match[1])


def alert(response) -> str:
    match = re.search(r'role="alert"[^>]*>(.*?)</div>', response.get_data(as_text=True), re.S)
    assert match, "no alert on the page"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match[1])).split())


@pytest.fixture
def visit(client):
    return PageVisit(client)


# --- the page -----------------------------------------------------------------------------------


def test_the_page_names_the_project_prefills_the_code_and_never_shows_a_key(visit, project):
    response = visit.open("?code=Curious-Pineapple")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    body = response.get_data(as_text=True)
    assert "<strong>acme</strong>" in body
    assert value_of(response, "code") == "Curious-Pineapple" and value_of(response, "email") == ""
    assert project.keys.public_key not in body and project.keys.secret_key not in body
    assert not re.search(r"[ps]k_[0-9a-f]{6}", body)
    assert '<label for="code">Code</label>' in body and '<label for="email">Email address</label>' in body
    assert 'autocomplete="email" inputmode="email"' in body
    assert "http" not in body, "no external resource, no absolute link"


def test_the_page_is_never_cached_framed_or_posted_elsewhere(visit, project):
    response = visit.open()
    assert response.headers["Cache-Control"] == "no-store"
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "form-action 'self';" in policy
    assert "script-src" not in policy and "default-src 'none'" in policy  # no script at all
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("codes_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_slugs_ignore_case_and_unknown_ones_get_a_page_not_json(client, project):
    assert client.get("/p/ACME").status_code == 200
    response = client.get("/p/nobody-here")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "There is no claim page at this address." in response.get_data(as_text=True)


def test_the_code_in_the_query_is_escaped(visit, project):
    response = visit.open('?code="><script>alert(1)</script>')
    assert "<script>" not in response.get_data(as_text=True)
    assert value_of(response, "code") == '"><script>alert(1)</script>'


# --- claiming -----------------------------------------------------------------------------------


def test_a_claim_ends_on_the_success_page_and_is_recorded(visit, generate, client, secret):
    [code] = generate()
    response = visit.claim(code["code"].upper(), " Ada@Example.com ")
    assert response.status_code == 303
    assert response.headers["Location"] == "/p/acme/claimed"
    done = client.get(response.headers["Location"])
    assert done.status_code == 200
    body = done.get_data(as_text=True)
    assert "Code claimed" in body and code["code"] in body and EMAIL in body
    claims = client.get(f"/codes/{code['code']}/claims", headers=secret).get_json()["data"]["items"]
    assert [c["email"] for c in claims] == [EMAIL]


def test_the_success_page_without_a_claim_goes_back_to_the_form(client, project):
    response = client.get("/p/acme/claimed")
    assert response.status_code == 303 and response.headers["Location"] == "/p/acme"


def test_with_a_redirect_url_a_claim_ends_there_with_a_token_that_exchanges(
    visit, generate, client, secret, session_factory
):
    with session_factory() as session:
        pages.set_redirect_url(session, "acme", "https://acme.example/welcome?from=codes")
        session.commit()
    [code] = generate()
    opened = visit.open()
    assert "form-action 'self' https://acme.example;" in opened.headers["Content-Security-Policy"]
    response = visit.claim(code["code"])
    assert response.status_code == 303
    location = response.headers["Location"]
    match = re.fullmatch(r"https://acme\.example/welcome\?from=codes&claim_token=([0-9a-f]{32})", location)
    assert match, location
    exchanged = client.post("/claims/exchange", json={"token": match[1]}, headers=secret)
    assert exchanged.status_code == 200, exchanged.get_json()
    assert exchanged.get_json()["data"]["lead"]["email"] == EMAIL
    assert exchanged.get_json()["data"]["code"]["code"] == code["code"]


# --- refusals: a sentence, the right status, and what was typed ----------------------------------


def _refused(visit, code: str, email: str = EMAIL, *, status: int, sentence: str):
    response = visit.claim(code, email)
    assert response.status_code == status
    assert sentence in alert(response)
    assert value_of(response, "code") == code and value_of(response, "email") == email
    assert response.get_data(as_text=True).count("autofocus") == 1
    return response


def test_an_unknown_code(visit, project):
    _refused(visit, "no-such-code", status=404, sentence="We couldn't find that code.")


def test_a_code_reserved_for_someone_else(visit, generate):
    [code] = generate(reservedFor="grace@example.com")
    _refused(visit, code["code"], status=403, sentence="reserved for another email address")


def test_a_code_already_claimed_by_this_email(visit, generate):
    [code] = generate(allowedClaims=5)
    assert visit.claim(code["code"]).status_code == 303
    _refused(visit, code["code"], status=409, sentence="You have already claimed this code")


def test_a_code_not_valid_yet_says_from_when(visit, generate):
    start = (utcnow() + dt.timedelta(days=3)).replace(hour=9, minute=30, second=0, microsecond=0)
    [code] = generate(validFrom=start.isoformat() + "Z")
    sentence = f"You can claim it from {start.day} {start:%B %Y} at 09:30 UTC."
    _refused(visit, code["code"], status=409, sentence=sentence)


def test_an_expired_code_says_since_when(visit, generate, clock_at):
    end = (utcnow() + dt.timedelta(hours=1)).replace(second=0, microsecond=0)
    [code] = generate(validUntil=end.isoformat() + "Z")
    clock_at(end + dt.timedelta(minutes=1))
    sentence = f"This code expired on {end.day} {end:%B %Y} at {end:%H:%M} UTC."
    _refused(visit, code["code"], status=409, sentence=sentence)


def test_a_fully_claimed_code(visit, generate, client, public):
    [code] = generate()
    client.post("/codes/claim", json={"code": code["code"], "email": "first@example.com"}, headers=public)
    _refused(visit, code["code"], status=409, sentence="claimed as many times as it allows")


def test_empty_or_malformed_fields_are_named_each_and_nothing_is_claimed(visit, generate, client, secret):
    [code] = generate()
    response = visit.claim("", "")
    assert response.status_code == 422
    assert alert(response) == "Check the form Enter your code. Enter your email address."
    body = response.get_data(as_text=True)
    assert 'aria-describedby="code-hint code-error" aria-invalid="true"' in body
    response = visit.claim(code["code"], "ada@")
    assert response.status_code == 422
    assert "Enter an email address like name@example.com." in alert(response)
    assert value_of(response, "email") == "ada@"
    response = visit.claim("x" * 65, EMAIL)
    assert "Codes are at most 64 characters." in alert(response)
    assert client.get(f"/codes/{code['code']}", headers=secret).get_json()["data"]["claims"] == 0


@pytest.mark.parametrize("token", ["", "forged.token.value"])
def test_without_a_valid_csrf_token_nothing_is_claimed(visit, generate, client, secret, token):
    [code] = generate()
    visit.open()
    response = visit.claim(code["code"], token=token)
    assert response.status_code == 400
    assert "Press Claim again" in alert(response)
    assert value_of(response, "code") == code["code"] and value_of(response, "email") == EMAIL
    assert client.get(f"/codes/{code['code']}", headers=secret).get_json()["data"]["claims"] == 0
    assert visit.claim(code["code"]).status_code == 303, "the fresh token in the answer works"


def test_a_token_from_another_browser_is_refused(client, app, generate):
    [code] = generate()
    other = PageVisit(app.test_client())
    other.open()
    visit = PageVisit(client)
    visit.open()
    assert visit.claim(code["code"], token=other.token).status_code == 400


# --- the API's rate limits and anti-guessing counters ----------------------------------------


@pytest.fixture
def limited_visit(make_app):
    def make(**limits):
        client = make_app(**{"RATELIMIT_ENABLED": True, **LOOSE, **limits}).test_client()
        return client, PageVisit(client)

    return make


def test_claims_through_the_page_and_the_api_share_the_per_ip_limit(limited_visit, project, public):
    client, visit = limited_visit(RATELIMIT_CLAIM_PER_IP="2/minute")
    here = from_ip("10.0.0.1")
    visit.open(**here)
    assert visit.claim("aaa", **here).status_code == 404
    api = client.post("/codes/claim", json={"code": "bbb", "email": EMAIL}, headers=public, **here)
    assert api.status_code == 404
    blocked = visit.claim("ccc", "grace@example.com", **here)
    assert blocked.status_code == 429 and blocked.mimetype == "text/html"
    assert re.fullmatch(r"Too many attempts\. Wait (\d+ seconds|a minute), then try again\.", alert(blocked))
    assert value_of(blocked, "code") == "ccc" and value_of(blocked, "email") == "grace@example.com"
    assert 0 < int(blocked.headers["Retry-After"]) <= 60
    # Opening the page is no claim; another address still claims.
    assert visit.open(**here).status_code == 200
    assert visit.claim("ddd", **from_ip("10.0.0.2")).status_code == 404


def test_guesses_through_the_page_and_the_api_count_together_per_project(
    limited_visit, project, make_project, public, secret
):
    client, visit = limited_visit(RATELIMIT_CLAIM_GUESSES="3/minute")
    code = client.post("/codes/generate", json={"amount": 1}, headers=secret).get_json()["data"][0]["code"]
    assert visit.claim("guess-1").status_code == 404
    assert visit.claim("guess-2").status_code == 404
    guess = client.post("/codes/claim", json={"code": "guess-3", "email": EMAIL}, headers=public)
    assert guess.status_code == 404
    # The fourth claim, even of a real code, is refused: through the page and through the API.
    blocked = visit.claim(code)
    assert blocked.status_code == 429 and "Too many attempts" in alert(blocked)
    assert_rate_limited(client.post("/codes/claim", json={"code": code, "email": EMAIL}, headers=public), 3)
    # Another project's page is counted apart.
    make_project("other")
    assert PageVisit(client, "other").claim("guess-x").status_code == 404


def test_refusals_of_real_codes_are_not_guesses(limited_visit, project, secret):
    client, visit = limited_visit(RATELIMIT_CLAIM_GUESSES="2/minute")
    code = client.post("/codes/generate", json={"amount": 1}, headers=secret).get_json()["data"][0]["code"]
    assert visit.claim(code).status_code == 303
    for _ in range(3):
        assert visit.claim(code).status_code == 409


def test_a_page_claim_counts_against_the_public_keys_limit(limited_visit, project, public):
    client, visit = limited_visit(RATELIMIT_PER_KEY="2/minute")
    visit.open()
    assert visit.claim("aaa").status_code == 404
    assert visit.claim("bbb").status_code == 404
    assert visit.open().status_code == 200, "GETs of the page use no key's budget"
    assert client.post("/codes/claim", json={"code": "c", "email": EMAIL}, headers=public).status_code == 429


# --- the CLI --------------------------------------------------------------------------------------


def test_set_slug_moves_the_page_and_prints_its_address(runner, client, project, make_app):
    result = runner.invoke(args=["projects", "set-slug", "acme", "Spring-Sale"])
    assert result.exit_code == 0, result.output
    assert "/p/spring-sale (set PUBLIC_URL)" in result.output
    assert client.get("/p/spring-sale").status_code == 200 and client.get("/p/acme").status_code == 404
    public_runner = make_app(PUBLIC_URL="https://codes.example").test_cli_runner()
    result = public_runner.invoke(args=["projects", "set-slug", "acme", "spring", "--json"])
    assert result.output.strip().splitlines()[-1] == '{"name": "acme", "slug": "spring"}'
    result = public_runner.invoke(args=["projects", "set-slug", "acme", "s2"])
    assert result.output == "Project 'acme': claim page at https://codes.example/p/s2\n"


def test_the_email_preview_shows_the_claim_page_link(make_app, project):
    runner = make_app(PUBLIC_URL="https://codes.example").test_cli_runner()
    result = runner.invoke(args=["projects", "set-template", "acme", "--subject", "Your {{code}}"])
    assert result.exit_code == 0, result.output
    assert "claim URL (none: its claim page, https://codes.example/p/acme?code={code})" in result.output
    assert "Claim it here: https://codes.example/p/acme?code=curious-pineapple" in result.output


def test_set_slug_refusals_are_clear(runner, project, make_project):
    make_project("other")
    result = runner.invoke(args=["projects", "set-slug", "acme", "other"])
    assert result.exit_code == 1 and "already at /p/other. (slug_taken)" in result.output
    result = runner.invoke(args=["projects", "set-slug", "acme", "not a slug"])
    assert result.exit_code != 0 and "slug: 1 to 64 lowercase letters" in result.output
    assert runner.invoke(args=["projects", "set-slug", "acme"]).exit_code == 2
    assert "No project named 'nobody'" in runner.invoke(args=["projects", "set-slug", "nobody", "x"]).output


def test_set_slug_clear_removes_the_page(runner, client, project):
    result = runner.invoke(args=["projects", "set-slug", "acme", "--clear"])
    assert result.exit_code == 0 and "has no claim page" in result.output
    assert client.get("/p/acme").status_code == 404


def test_set_redirect_accepts_https_and_localhost_only(runner, project, session_factory):
    result = runner.invoke(args=["projects", "set-redirect", "acme", "http://acme.example/welcome"])
    assert result.exit_code != 0 and "redirectUrl: Must be an absolute https:// URL" in result.output
    for url in ("https://acme.example/welcome", "http://localhost:3000/done"):
        result = runner.invoke(args=["projects", "set-redirect", "acme", url, "--json"])
        assert result.exit_code == 0, result.output
        assert result.output.strip().splitlines()[-1] == f'{{"name": "acme", "redirectUrl": "{url}"}}'
    result = runner.invoke(args=["projects", "set-redirect", "acme", "--clear"])
    assert result.exit_code == 0 and "its own success page" in result.output
    with session_factory() as session:
        assert pages.find_page(session, "acme").redirect_url is None


def test_secret_key_comes_from_the_setting_or_one_file_per_instance(tmp_path, make_app, monkeypatch):
    from api.secret_key import instance_secret_key

    first = instance_secret_key(tmp_path / "instance")
    assert len(first) == 64 and instance_secret_key(tmp_path / "instance") == first
    assert oct((tmp_path / "instance" / "secret_key").stat().st_mode & 0o777) == "0o600"
    assert instance_secret_key(tmp_path / "elsewhere") != first
    monkeypatch.setenv("SECRET_KEY", "from-the-environment-" + "x" * 20)
    assert make_app().secret_key == "from-the-environment-" + "x" * 20


def test_processes_racing_to_make_the_key_all_get_the_same_one(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from api.secret_key import instance_secret_key

    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: instance_secret_key(tmp_path), range(32)))
    assert len(keys) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"], "no temporary file left behind"
