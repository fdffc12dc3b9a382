//! The operator console in headless Chromium, driven over the WebDriver protocol (plain
//! HTTP to chromedriver), against two real `sedgate serve` processes exchanging real
//! traffic: log in, find a message, see its timeline and receipt, re-drive a dead letter.
//! Screenshots go to `target/screenshots/`. Needs the Debian packages `chromium` and
//! `chromium-driver` (scripts/setup.sh installs them); without them the test fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

use crate::common::repo_path;
use crate::gateways::{free_ports, sed_for, GatewayOptions, TwoGateways, SENDER};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// The W3C WebDriver key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver and one browser session; both end on drop. Also drives the MISSOC pages
/// (tests/it/missoc_publish.rs).
pub struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    pub async fn start() -> Driver {
        for binary in [CHROMEDRIVER, CHROMIUM] {
            assert!(
                Path::new(binary).exists(),
                "{binary} is missing: install the Debian packages chromium and chromium-driver (scripts/setup.sh)"
            );
        }
        let [port] = free_ports::<1>();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = match http.get(format!("{base}/status")).send().await {
                Ok(res) => res
                    .json::<Value>()
                    .await
                    .is_ok_and(|v| v["value"]["ready"] == true),
                Err(_) => false,
            };
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,1000",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let res: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .unwrap();
        let session = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver refused the session: {res}"))
            .to_owned();
        Driver {
            child,
            base,
            session,
            http,
            _profile: profile,
        }
    }

    pub async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Value> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res: Value = req.send().await.unwrap().json().await.unwrap();
        if res["value"]["error"].is_string() {
            return Err(res);
        }
        Ok(res["value"].clone())
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .await
            .unwrap_or_else(|res| panic!("WebDriver {path}: {res}"))
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    /// Waits until the page's URL satisfies `wanted` (a click returns before the navigation
    /// it starts has finished, later on a busy machine); fails with the URL and the page
    /// text after 15 s.
    pub async fn wait_for_url(&self, wanted: impl Fn(&str) -> bool, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let url = self.current_url().await;
            if wanted(&url) {
                return url;
            }
            if Instant::now() >= deadline {
                let page = self.text("body").await;
                panic!("the browser did not reach {what}: still at {url}, showing:\n{page}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn current_url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn find(&self, css: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT].as_str().unwrap().to_owned()
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{el}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// The element's text; retried while a navigation replaces the page under it.
    pub async fn text(&self, css: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let found = self
                .try_call(
                    reqwest::Method::POST,
                    "/element",
                    Some(json!({"using": "css selector", "value": css})),
                )
                .await;
            let result = match found {
                Ok(v) => {
                    let el = v[ELEMENT].as_str().unwrap_or_default().to_owned();
                    self.try_call(reqwest::Method::GET, &format!("/element/{el}/text"), None)
                        .await
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(text) => return text.as_str().unwrap_or_default().to_owned(),
                Err(e) if std::time::Instant::now() < deadline => {
                    let error = e["value"]["error"].as_str().unwrap_or_default();
                    assert!(
                        error == "stale element reference" || error == "no such element",
                        "WebDriver text of {css}: {e}"
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("WebDriver text of {css}: {e}"),
            }
        }
    }

    /// The value of attribute `name` of the element `css`.
    pub async fn attribute(&self, css: &str, name: &str) -> String {
        let el = self.find(css).await;
        let v = self
            .call(
                reqwest::Method::GET,
                &format!("/element/{el}/attribute/{name}"),
                None,
            )
            .await;
        v.as_str().unwrap_or_default().to_owned()
    }

    pub async fn screenshot(&self, dir: &Path, name: &str) -> PathBuf {
        let b64 = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        let path = dir.join(name);
        std::fs::write(&path, png).unwrap();
        path
    }

    pub async fn quit(&self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
    }
}

/// Posts a P2000 from AT:0100 to `receiver`; returns the message id.
async fn post(gw: &TwoGateways, case_id: &str, receiver: &str) -> String {
    let sed = sed_for(case_id).replace("NO:NAVAT07", receiver);
    let metadata = json!({"case_id": case_id, "buc": "P_BUC_01", "sed_type": "P2000",
        "cdm_version": "4.2", "sender": SENDER, "receivers": [receiver]});
    let form = reqwest::multipart::Form::new()
        .text("metadata", metadata.to_string())
        .part(
            "sed",
            reqwest::multipart::Part::bytes(sed.into_bytes()).file_name("P2000.xml"),
        );
    let res = gw
        .http
        .post(gw.at.url("/api/v1/messages"))
        .bearer_auth(&gw.at_token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 202, "{body}");
    body["messages"][0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn operator_finds_a_message_and_redrives_a_dead_letter_in_chromium() {
    let gw = TwoGateways::start_with(
        sedgate_gateway::config::Engine::Sqlite,
        GatewayOptions {
            max_attempts: 2,
            ..GatewayOptions::default()
        },
    )
    .await;
    // Real traffic: one P2000 delivered to NO over AS4, one to SE whose access point does
    // not answer, so it is dead-lettered after its two attempts.
    let delivered = post(&gw, "CASE-BROWSER-1", "NO:NAVAT07").await;
    let dead = post(&gw, "CASE-BROWSER-2", "SE:ACC2001").await;
    gw.wait_state(&delivered, "delivered", Duration::from_secs(30))
        .await;
    gw.wait_state(&dead, "dead_lettered", Duration::from_secs(30))
        .await;
    let (ok, password, err) = gw.at.cli(&["operator", "add", "--name", "ops"]);
    assert!(ok, "operator add: {err}");
    let password = password.trim().to_owned();
    assert!(password.len() >= 20);

    let shots = repo_path("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let driver = Driver::start().await;
    let console = gw.at.url("/console");

    // Not logged in: the console sends the browser to the login page.
    driver.goto(&console).await;
    assert!(driver.current_url().await.ends_with("/console/login"));
    driver.type_into("#name", "ops").await;
    driver.type_into("#password", "wrong password").await;
    driver.click("#login").await;
    assert_eq!(driver.text("#login-error").await, "Wrong name or password.");
    driver.type_into("#name", "ops").await;
    driver.type_into("#password", &password).await;
    driver.click("#login").await;
    driver
        .wait_for_url(
            |u| u.ends_with("/console"),
            "the dashboard after logging in",
        )
        .await;
    assert_eq!(driver.text("#dead-count").await, "1");
    assert!(driver.text("#dead-letters").await.contains(&dead));
    driver.screenshot(&shots, "console-dashboard.png").await;

    // Find the delivered message by its case and open its timeline.
    driver.goto(&gw.at.url("/console/messages")).await;
    driver
        .type_into("input[name=case_id]", "CASE-BROWSER-1")
        .await;
    driver.click("#search-button").await;
    let results = driver.text("#results").await;
    assert!(
        results.contains(&delivered) && !results.contains(&dead),
        "{results}"
    );
    driver.click("#results a").await;
    let timeline = driver.text("#timeline").await;
    assert!(
        timeline.contains("accepted") && timeline.contains("delivered"),
        "{timeline}"
    );
    assert!(timeline.contains("receipt received"), "{timeline}");
    assert!(driver.text("#receipt").await.starts_with("present:"));
    driver.screenshot(&shots, "console-timeline.png").await;

    // Re-drive the dead letter from the dashboard.
    driver.goto(&console).await;
    driver.click("#dead-letters a").await;
    let timeline = driver.text("#timeline").await;
    assert!(
        timeline.contains("retry") && timeline.contains("dead_lettered"),
        "{timeline}"
    );
    driver.screenshot(&shots, "console-dead-letter.png").await;
    driver.click("#redrive").await;
    assert!(driver.text("#flash").await.starts_with("Re-driven"));
    assert!(driver.text("#timeline").await.contains("by operator:ops"));
    driver.screenshot(&shots, "console-redriven.png").await;
    driver.goto(&console).await;
    // Back in the outbox: no longer dead until its new attempts run out.
    let dead_count = driver.text("#dead-count").await;
    assert!(dead_count == "0" || dead_count == "1", "{dead_count}");

    // The delivered SED, readable in French.
    driver
        .goto(
            &gw.at
                .url(&format!("/console/messages/{delivered}/render?lang=fr")),
        )
        .await;
    assert!(driver
        .text("h1")
        .await
        .contains("Demande de pension de vieillesse"));
    driver.screenshot(&shots, "sed-p2000-fr.png").await;
    driver.quit().await;
}
