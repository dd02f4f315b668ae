import pytest

from rag.urls import safe_url


@pytest.mark.parametrize("url, shown", [
    ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1"),
    ("https://user:s3cret@llm.example:8443/v1?key=abc", "https://llm.example:8443/v1"),
    ("postgresql://rag:pw@db.internal:5432/rag?sslmode=require", "postgresql://db.internal:5432/rag"),
    # IPv6 keeps its brackets: the address shown stays one a user can paste.
    ("http://[::1]:9000/v1", "http://[::1]:9000/v1"),
])
def test_safe_url_drops_credentials_and_query(url, shown):
    assert safe_url(url) == shown
