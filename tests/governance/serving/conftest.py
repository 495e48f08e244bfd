from tests.governance.serving.served import _fresh_serving_state, artifacts, permissive, served  # noqa: F401
