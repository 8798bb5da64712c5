"""Claim pages in the domain: slugs, redirect URLs, and the claim URL emails link to."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shared import pages
from shared.errors import InvalidInput, PageNotFound, ProjectNotFound, SlugTaken
from shared.models import Project
from shared.projects import create_project, slug_from_name


def _slug(session_factory, name: str) -> str | None:
    with session_factory() as session:
        return session.scalars(select(Project.slug).where(Project.name == name)).one()


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("acme", "acme"),
        ("Acme Beta", "acme-beta"),
        ("shop_2.0 -- EU", "shop-2-0-eu"),
        ("9", "9"),
        ("x" * 100, "x" * 56),
    ],
)
def test_a_slug_is_made_from_the_name(name, slug):
    assert slug_from_name(name) == slug


def test_every_new_project_gets_a_page_and_look_alike_names_get_their_own(make_project, session_factory):
    make_project("Shop A")
    make_project("shop-a")
    make_project("SHOP  a")
    assert [_slug(session_factory, name) for name in ("Shop A", "shop-a", "SHOP  a")] == [
        "shop-a",
        "shop-a-2",
        "shop-a-3",
    ]
    with session_factory() as session:
        assert pages.find_page(session, "shop-a-2").project == "shop-a"


def test_a_project_created_inside_a_larger_transaction_keeps_it_usable(session):
    create_project(session, "one")
    create_project(session, "One")  # its slug "one" is taken: a savepoint, not a broken transaction
    session.flush()
    assert sorted(session.scalars(select(Project.slug))) == ["one", "one-2"]


def test_find_page_ignores_case_and_gives_what_the_page_needs(make_project, session_factory):
    project = make_project("Acme Beta")
    with session_factory() as session:
        page = pages.find_page(session, " ACME-Beta ")
    assert (page.project_id, page.project, page.slug, page.redirect_url) == (
        project.id,
        "Acme Beta",
        "acme-beta",
        None,
    )


@pytest.mark.parametrize("slug", ["missing", "", "a/b", "-acme", "x" * 65, "acme%20"])
def test_unknown_or_malformed_slugs_have_no_page(make_project, session_factory, slug):
    make_project("acme")
    with session_factory() as session, pytest.raises(PageNotFound):
        pages.find_page(session, slug)


def test_set_slug_moves_the_page(make_project, session_factory):
    make_project("acme")
    with session_factory() as session:
        pages.set_slug(session, "acme", "Spring-Sale")
        session.commit()
    with session_factory() as session:
        assert pages.find_page(session, "spring-sale").project == "acme"
        with pytest.raises(PageNotFound):
            pages.find_page(session, "acme")


def test_a_slug_taken_by_another_project_is_refused_and_nothing_changes(make_project, session_factory):
    make_project("acme")
    make_project("other")
    with session_factory() as session, pytest.raises(SlugTaken, match="/p/acme"):
        pages.set_slug(session, "other", "acme")
    assert _slug(session_factory, "other") == "other"


@pytest.mark.parametrize("slug", ["", "has space", "-lead", "trail-", "ü", "x" * 65, "a_b"])
def test_malformed_slugs_are_refused(make_project, session, slug):
    make_project("acme")
    with pytest.raises(InvalidInput) as error:
        pages.set_slug(session, "acme", slug)
    assert list(error.value.errors) == ["slug"]


def test_no_slug_means_no_page(make_project, session_factory):
    make_project("acme")
    with session_factory() as session:
        pages.set_slug(session, "acme", None)
        session.commit()
    assert _slug(session_factory, "acme") is None
    with session_factory() as session, pytest.raises(ProjectNotFound):
        pages.set_slug(session, "nobody", "x")


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example/welcome",
        "https://shop.example:8443/welcome?from=codes#top",
        "http://localhost:3000/done",
        "http://127.0.0.1/done",
        "http://[::1]:8080/done",
    ],
)
def test_redirect_urls_are_https_or_this_machine(url):
    assert pages.check_redirect_url(f"  {url} ") == url


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://shop.example/welcome", "https://"),
        ("ftp://shop.example/", "https://"),
        ("/welcome", "https://"),
        ("javascript:alert(1)", "https://"),
        ("https://user:pass@shop.example/", "user name"),
        ("https://shop.example/?claim_token=x", "claim_token"),
        ("https://shop.example/a b", "spaces"),
        ("https://shop.example:99999/", "https://"),
        ("https://shop.example/" + "x" * 2000, "2000"),
    ],
)
def test_other_redirect_urls_are_refused_with_the_reason(url, problem):
    with pytest.raises(InvalidInput) as error:
        pages.check_redirect_url(url)
    assert problem in " ".join(error.value.errors["redirectUrl"])


def test_set_redirect_url_and_clear_it(make_project, session_factory):
    make_project("acme")
    with session_factory() as session:
        pages.set_redirect_url(session, "acme", "https://acme.example/welcome")
        session.commit()
    with session_factory() as session:
        assert pages.find_page(session, "acme").redirect_url == "https://acme.example/welcome"
        pages.set_redirect_url(session, "acme", None)
        session.commit()
    with session_factory() as session:
        assert pages.find_page(session, "acme").redirect_url is None


@pytest.mark.parametrize(
    ("redirect_url", "expected"),
    [
        ("https://s.example/done", "https://s.example/done?claim_token=t0k"),
        ("https://s.example/done?from=mail&x=", "https://s.example/done?from=mail&x=&claim_token=t0k"),
        ("https://s.example/done#thanks", "https://s.example/done?claim_token=t0k#thanks"),
    ],
)
def test_the_token_is_appended_to_the_query(redirect_url, expected):
    assert pages.redirect_with_token(redirect_url, "t0k") == expected


def test_the_claim_url_is_the_projects_own_else_its_page_else_none():
    own = "https://shop.example/claim?c={code}"
    assert pages.claim_url_template(own, "acme", "https://codes.example") == own
    assert (
        pages.claim_url_template(None, "acme", "https://codes.example/")
        == "https://codes.example/p/acme?code={code}"
    )
    assert pages.claim_url_template(None, "acme", None) is None
    assert pages.claim_url_template(None, None, "https://codes.example") is None
