def test_healthz_answers_ok(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_reports_database_reachable(client):
    assert client.get("/readyz").get_json()["database"] == "ok"


def test_worker_can_sign_in_and_see_home(client, create_firm, create_user, login):
    firm = create_firm()
    worker = create_user(role="worker", firm=firm)
    login(worker)
    assert worker.name in client.get("/").get_data(as_text=True)
