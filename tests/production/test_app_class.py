"""The app's Flask subclass (factory.App) changes how fast hooks are called, not what runs."""

from __future__ import annotations

import functools

import pytest

from oauth_server.factory import App


def test_plain_hooks_views_and_partials_run_as_in_flask():
    app = App(__name__)
    seen: list[str] = []

    def plain() -> str:
        seen.append("view")
        return "plain"

    def hook(response, label: str):  # noqa: ANN001, ANN202
        seen.append(label)
        return response

    app.add_url_rule("/plain", view_func=plain)
    app.after_request(functools.partial(hook, label="partial hook"))
    response = app.test_client().get("/plain")
    assert response.get_data(as_text=True) == "plain"
    assert seen == ["view", "partial hook"]


def test_a_coroutine_view_still_goes_to_flasks_async_support():
    app = App(__name__)
    app.testing = True  # the view's error reaches the test

    async def coroutine_view() -> str:
        return "async"

    app.add_url_rule("/async", view_func=coroutine_view)
    try:
        import asgiref  # noqa: F401
    except ImportError:
        # Flask's own answer without its "async" extra: the view was not called as a
        # plain function (which would have handed a coroutine to the response).
        with pytest.raises(RuntimeError, match="async"):
            app.test_client().get("/async")
    else:
        assert app.test_client().get("/async").get_data(as_text=True) == "async"
