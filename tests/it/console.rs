//! The operator console over HTTP: login required, wrong passwords and foreign forms
//! refused, search, timeline and evidence, re-drive of a real dead letter (the IR's access
//! points are unreachable, so the outbox dead-letters after one attempt), HTML escaping.

use std::time::{Duration, Instant};

use reqwest::multipart::{Form, Part};
use reqwest::redirect::Policy;
use sedgate_bench::sample::sed_with_header;
use sedgate_gateway::config::Engine;
use serde_json::{json, Value};

use crate::both_engines;
use crate::common::{repo_path, spawn_app_with, SpawnOptions, TestApp};

pub const AT: &str = "AT:9900";
const NO: &str = "NO:NAVAT07";
const PASSWORD: &str = "s3cret-operator-password";

pub async fn spawn_console_app(engine: Engine) -> TestApp {
    spawn_app_with(
        engine,
        SpawnOptions {
            extra_toml: "[outbox]\nmax_attempts = 1\nbase_backoff = \"10ms\"\nmax_backoff = \"10ms\"\npoll_interval = \"50ms\"\nsend_timeout = \"2s\"\n".into(),
            ..SpawnOptions::default()
        },
    )
    .await
}

/// An operator stored as `sedgate operator add` stores one.
pub async fn add_operator(app: &TestApp, name: &str, password: &str) {
    let hash = sedgate_base::secret::hash_password(password).unwrap();
    app.state
        .store
        .add_operator(
            &uuid::Uuid::new_v4().to_string(),
            name,
            &hash,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
}

/// Submits a P2000 from AT:9900 to NO:NAVAT07 in `case`; returns the message id.
pub async fn submit_p2000(app: &TestApp, token: &str, case: &str) -> String {
    let fixture =
        std::fs::read_to_string(repo_path("tests/fixtures/sed/4.2/P2000/valid.xml")).unwrap();
    let xml = sed_with_header(&fixture, case, AT, &[NO]).unwrap();
    let metadata = json!({"case_id": case, "buc": "P_BUC_01", "sed_type": "P2000",
        "cdm_version": "4.2", "sender": AT, "receivers": [NO]});
    let form = Form::new()
        .text("metadata", metadata.to_string())
        .part("sed", Part::text(xml).file_name("sed.xml"));
    let res = app
        .http
        .post(app.url("/api/v1/messages"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let body: Value = res.json().await.unwrap();
    body["messages"][0]["id"].as_str().unwrap().to_owned()
}

pub async fn wait_state(app: &TestApp, id: &str, state: &str) {
    let id: sedgate_base::domain::MessageId = id.parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m = app.state.store.message(&id).await.unwrap().unwrap();
        if m.state.as_str() == state {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{id} is {:?}, not {state}",
            m.state
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A browser-like client: no redirects followed, cookies kept by hand.
struct Browser<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    cookies: Vec<(String, String)>,
}

struct Page {
    status: u16,
    location: Option<String>,
    body: String,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Browser {
            app,
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            cookies: Vec::new(),
        }
    }

    fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let header = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let res = req.header("cookie", header).send().await.unwrap();
        for set in res.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let (pair, attrs) = set.split_once(';').unwrap();
            assert!(
                attrs.contains("HttpOnly") && attrs.contains("SameSite=Strict"),
                "{set}"
            );
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            if !v.is_empty() {
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
        Page {
            status: res.status().as_u16(),
            location: res
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_owned()),
            body: res.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(self.app.url(path));
        self.send(req).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self.http.post(self.app.url(path)).form(form);
        self.send(req).await
    }

    async fn login(&mut self, name: &str, password: &str) -> Page {
        let page = self.get("/console/login").await;
        assert_eq!(page.status, 200);
        let csrf = csrf_of(&page.body);
        self.post(
            "/console/login",
            &[("name", name), ("password", password), ("csrf", &csrf)],
        )
        .await
    }
}

/// The value of the first hidden `csrf` input of a page.
fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("csrf field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

async fn requires_login_and_refuses_wrong_passwords(engine: Engine) {
    let app = spawn_console_app(engine).await;
    add_operator(&app, "alice", PASSWORD).await;
    let mut b = Browser::new(&app);
    for path in [
        "/console",
        "/console/messages",
        "/console/institutions/NO:NAVAT07",
    ] {
        let page = b.get(path).await;
        assert_eq!(
            (page.status, page.location.as_deref()),
            (303, Some("/console/login")),
            "{path}"
        );
    }
    let page = b
        .post("/console/messages/x@y/redrive", &[("csrf", "x")])
        .await;
    assert_eq!(page.location.as_deref(), Some("/console/login"));

    for (name, password) in [("alice", "wrong"), ("mallory", PASSWORD), ("alice", "")] {
        let page = b.login(name, password).await;
        assert_eq!(page.status, 401, "{name}");
        assert!(page.body.contains("Wrong name or password."));
        assert!(b.cookie("sedgate_console").is_none());
        assert_eq!(b.get("/console").await.status, 303);
    }
    // A login form posted without the login cookie (from another site) is refused.
    let page = Browser::new(&app)
        .post(
            "/console/login",
            &[
                ("name", "alice"),
                ("password", PASSWORD),
                ("csrf", "forged"),
            ],
        )
        .await;
    assert_eq!(page.status, 403);

    let page = b.login("alice", PASSWORD).await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some("/console"))
    );
    let dashboard = b.get("/console").await;
    assert_eq!(dashboard.status, 200);
    assert!(dashboard.body.contains("Dashboard") && dashboard.body.contains("alice"));
    // This gateway's certificate (dev PKI) with its expiry.
    assert!(
        dashboard.body.contains("this gateway (AT)"),
        "{}",
        dashboard.body
    );

    // Log out: the session is gone server-side too.
    let stolen = b.cookie("sedgate_console").unwrap().to_owned();
    let csrf = csrf_of(&dashboard.body);
    let page = b.post("/console/logout", &[("csrf", &csrf)]).await;
    assert_eq!(page.location.as_deref(), Some("/console/login"));
    let mut replay = Browser::new(&app);
    replay.cookies.push(("sedgate_console".into(), stolen));
    assert_eq!(replay.get("/console").await.status, 303);
}
both_engines!(console_login, requires_login_and_refuses_wrong_passwords);

async fn finds_messages_and_redrives_a_dead_letter(engine: Engine) {
    let app = spawn_console_app(engine).await;
    add_operator(&app, "alice", PASSWORD).await;
    let token = app.token_for("pva", &[AT]).await;
    let id = submit_p2000(&app, &token, "CASE-C1").await;
    let other = submit_p2000(&app, &token, "CASE-C2").await;
    wait_state(&app, &id, "dead_lettered").await;
    wait_state(&app, &other, "dead_lettered").await;

    let mut b = Browser::new(&app);
    assert_eq!(b.login("alice", PASSWORD).await.status, 303);

    let dashboard = b.get("/console").await.body;
    assert!(
        dashboard.contains(&id) && dashboard.contains("dead_lettered"),
        "{dashboard}"
    );
    assert!(
        dashboard.contains("<div class=\"big\" id=\"dead-count\">2</div>"),
        "{dashboard}"
    );

    let found = b.get("/console/messages?case_id=CASE-C1").await.body;
    assert!(found.contains(&id) && !found.contains(&other), "{found}");
    let found = b
        .get(&format!(
            "/console/messages?institution={NO}&state=dead_lettered"
        ))
        .await
        .body;
    assert!(found.contains(&id) && found.contains(&other));
    let found = b.get("/console/messages?state=delivered").await.body;
    assert!(!found.contains(&id) && found.contains("no matching message"));
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let found = b
        .get(&format!("/console/messages?from={today}&to={today}"))
        .await
        .body;
    assert!(found.contains(&id));
    let found = b
        .get("/console/messages?from=2001-01-01&to=2001-01-02")
        .await
        .body;
    assert!(!found.contains(&id));
    let found = b.get("/console/messages?institution=nonsense").await.body;
    assert!(found.contains("class=\"error\">institution:"), "{found}");

    let path = format!("/console/messages/{id}");
    let page = b.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"redrive\""));
    assert!(page.body.contains("<strong>accepted</strong>"));
    assert!(
        page.body.contains("<strong>dead_lettered</strong>"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("none stored"),
        "no receipt for a dead letter"
    );
    let csrf = csrf_of(&page.body);

    // A foreign or stale token does not re-drive.
    let refused = b
        .post(&format!("{path}/redrive"), &[("csrf", "not-the-token")])
        .await;
    assert_eq!(refused.status, 403);
    let again = b.get(&path).await.body;
    assert!(again.contains("id=\"redrive\""));

    let done = b.post(&format!("{path}/redrive"), &[("csrf", &csrf)]).await;
    assert_eq!(done.status, 303);
    let location = done.location.unwrap();
    let page = b.get(&location).await.body;
    assert!(page.contains("Re-driven"), "{page}");
    assert!(page.contains("<strong>redriven</strong>") && page.contains("by operator:alice"));
    let audit = app.state.store.audit_tail(20).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "message.redriven"
        && e.actor == "operator:alice"
        && e.subject.as_deref() == Some(id.as_str())));
    // Re-driving what is no longer dead is refused.
    let not_dead = b.post(&format!("{path}/redrive"), &[("csrf", &csrf)]).await;
    assert!(
        not_dead.status == 409 || not_dead.status == 303,
        "{}",
        not_dead.status
    );

    // The readable SED from the console, in German.
    let rendered = b.get(&format!("{path}/render?lang=de")).await;
    assert_eq!(rendered.status, 200);
    assert!(rendered.body.contains("Antrag auf Altersrente"));
}
both_engines!(console_messages, finds_messages_and_redrives_a_dead_letter);

async fn browses_the_ir_and_escapes_what_it_echoes(engine: Engine) {
    let app = spawn_console_app(engine).await;
    add_operator(&app, "alice", PASSWORD).await;
    let mut b = Browser::new(&app);
    b.login("alice", PASSWORD).await;
    let list = b
        .get("/console/institutions?country=NO&buc=P_BUC_01")
        .await
        .body;
    assert!(list.contains("NO:NAVAT07"), "{list}");
    let detail = b.get("/console/institutions/NO:NAVAT07").await.body;
    assert!(
        detail.contains("P_BUC_01") && detail.contains("https://127.0.0.1:9/as4"),
        "{detail}"
    );
    let hostile = b
        .get("/console/institutions?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        .await
        .body;
    assert!(!hostile.contains("<script>alert(1)</script>"));
    assert!(
        hostile.contains("value=\"&#60;script&#62;alert(1)&#60;/script&#62;\""),
        "{hostile}"
    );
    let bad = b
        .get("/console/institutions?country=%22%3E%3Cb%3E")
        .await
        .body;
    assert!(
        !bad.contains("\"><b>") && bad.contains("class=\"error\">country:"),
        "{bad}"
    );
    assert_eq!(b.get("/console/institutions/XX:NOPE").await.status, 404);
    assert_eq!(b.get("/console/messages/nope@x").await.status, 404);
}
both_engines!(console_ir, browses_the_ir_and_escapes_what_it_echoes);
