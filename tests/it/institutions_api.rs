//! The IR over HTTP, and back-office authentication.

use sedgate_gateway::config::Engine;
use serde_json::Value;

use crate::both_engines;
use crate::common::spawn_app;

async fn search_and_show_institutions(engine: Engine) {
    let app = spawn_app(engine).await;
    let token = app.token_for("reader", &["AT:9900"]).await;
    let get = |path: String| {
        let req = app.http.get(app.url(&path)).bearer_auth(&token);
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let (status, body) =
        get("/api/v1/institutions?country=NO&buc=P_BUC_01&role=CounterParty&limit=100".into())
            .await;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"NO:NAVAT07"), "{ids:?}");
    assert!(ids.iter().all(|id| id.starts_with("NO:")));
    assert_eq!(body["total"].as_u64().unwrap() as usize, ids.len());

    let (status, body) = get("/api/v1/institutions/AT:9900".into()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["acronym"], "Dachverband");
    assert_eq!(body["access_point"]["country"], "AT");
    assert!(body["competences"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["buc"] == "H_BUC_01"));

    let (status, body) = get("/api/v1/institutions/AT:nope".into()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("unknown_institution"))
    );
    let (status, body) = get("/api/v1/institutions?country=XX".into()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_query"))
    );
}
both_engines!(search_and_show, search_and_show_institutions);

async fn refuses_missing_wrong_revoked_and_expired_tokens(engine: Engine) {
    let app = spawn_app(engine).await;
    let url = app.url("/api/v1/institutions?country=AT");
    let res = app.http.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "missing_token");

    let res = app
        .http
        .get(&url)
        .bearer_auth("sgt_not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "invalid_token");

    let token = app.token_for("soon-gone", &["AT:9900"]).await;
    app.state
        .store
        .revoke_api_client("soon-gone", chrono::Utc::now())
        .await
        .unwrap();
    let res = app.http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "revoked_token");

    let expired = sedgate_base::secret::generate_token();
    app.state
        .store
        .add_api_client(
            &sedgate_gateway::store::NewApiClient {
                id: "old".into(),
                name: "old".into(),
                token_hash: sedgate_base::secret::hash_token(&expired),
                institutions: vec!["AT:9900".parse().unwrap()],
                expires_at: Some(chrono::Utc::now() - chrono::Duration::days(1)),
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let res = app
        .http
        .get(&url)
        .bearer_auth(&expired)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "expired_token");
}
both_engines!(tokens, refuses_missing_wrong_revoked_and_expired_tokens);

async fn ops_endpoints_report_health_and_metrics(engine: Engine) {
    let app = spawn_app(engine).await;
    assert_eq!(
        app.http
            .get(app.url("/livez"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["ir"]["ok"], true);
    let token = app.token_for("m", &["AT:9900"]).await;
    app.http
        .get(app.url("/api/v1/institutions/AT:9900"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("sedgate_ir_institutions 248"), "{metrics}");
    assert!(
        metrics.contains("route=\"/api/v1/institutions/{id}\",status=\"200\""),
        "{metrics}"
    );
    let openapi = app.openapi().await;
    assert!(
        openapi["paths"]["/api/v1/institutions"]["get"].is_object(),
        "{openapi}"
    );
}
both_engines!(ops, ops_endpoints_report_health_and_metrics);
