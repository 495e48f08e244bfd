"""Error pages render in the site's layout with a way back, for a signed-in user and without any context."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string

from governance.roles import AUDITOR
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def test_a_missing_record_gets_the_404_page(client, engineer):
    client.login(username=engineer.username, password=PASSWORD)
    response = client.get("/audits/987654/")
    body = response.content.decode()
    assert response.status_code == 404
    assert "Error 404" in body and "Back to what needs attention" in body and 'nav aria-label="Main"' in body


def test_a_role_without_the_right_gets_the_403_page(client):
    auditor = make_user(AUDITOR)
    client.login(username=auditor.username, password=PASSWORD)
    response = client.get("/audits/new/")
    assert response.status_code == 403 and "Not allowed" in response.content.decode()


@pytest.mark.parametrize("code", ["400", "403", "404", "500"])
def test_each_error_page_renders_without_a_request(code):
    body = render_to_string(f"{code}.html")
    assert f"Error {code}" in body and 'href="/"' in body
