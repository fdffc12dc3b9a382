//! Message search, one message's timeline and evidence, re-driving a dead letter, and the
//! readable SED.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::auth::OperatorAuth;
use super::login::CsrfForm;
use super::{page, path_segment, when, ConsoleError, Layout};
use crate::api::render::{render_message, Format, RenderParams};
use crate::app::AppState;
use crate::store::{Direction, MessageQuery, MessageRecord, MessageState, Redrive};
use sedgate_base::domain::MessageId;

const LIMIT: i64 = 200;
const STATES: [&str; 7] = [
    "accepted",
    "sending",
    "delivered",
    "failed",
    "dead_lettered",
    "received",
    "acknowledged",
];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SearchForm {
    id: String,
    case_id: String,
    institution: String,
    state: String,
    from: String,
    to: String,
}

pub struct MessageRow {
    pub id: String,
    pub href: String,
    pub direction: &'static str,
    pub case_id: String,
    pub buc: String,
    pub sed_type: String,
    pub cdm_version: String,
    pub sender: String,
    pub receiver: String,
    pub peer_country: String,
    pub state: String,
    pub created_at: String,
}

fn message_href(id: &MessageId) -> String {
    format!("/console/messages/{}", path_segment(id.as_str()))
}

impl From<&MessageRecord> for MessageRow {
    fn from(m: &MessageRecord) -> Self {
        MessageRow {
            id: m.id.to_string(),
            href: message_href(&m.id),
            direction: match m.direction {
                Direction::Outbound => "sent",
                Direction::Inbound => "received",
            },
            case_id: m.case_id.to_string(),
            buc: m.buc.to_string(),
            sed_type: m.sed_type.to_string(),
            cdm_version: m.cdm_version.as_str().to_owned(),
            sender: m.sender.to_string(),
            receiver: m.receiver.to_string(),
            peer_country: m.peer_country.to_string(),
            state: m.state.as_str().to_owned(),
            created_at: when(m.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "console/messages.html")]
struct SearchPage {
    layout: Layout,
    form: SearchForm,
    states: [&'static str; 7],
    errors: Vec<String>,
    messages: Vec<MessageRow>,
    limit: i64,
}

/// Parses the non-empty fields; each bad one becomes a message on the page.
fn to_query(form: &SearchForm, errors: &mut Vec<String>) -> MessageQuery {
    fn field<T: std::str::FromStr>(raw: &str, what: &str, errors: &mut Vec<String>) -> Option<T>
    where
        T::Err: std::fmt::Display,
    {
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        raw.parse()
            .map_err(|e: T::Err| errors.push(format!("{what}: {e}")))
            .ok()
    }
    let day = |raw: &str, what: &str, errors: &mut Vec<String>| -> Option<NaiveDate> {
        field::<NaiveDate>(raw, what, errors)
    };
    let start_of = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    MessageQuery {
        id: field(&form.id, "message id", errors),
        case_id: field(&form.case_id, "case id", errors),
        institution: field(&form.institution, "institution", errors),
        state: field::<MessageState>(&form.state, "state", errors),
        from: day(&form.from, "from", errors).and_then(start_of),
        // The "to" day is included: search before the start of the next day.
        to: day(&form.to, "to", errors)
            .and_then(|d| d.succ_opt())
            .and_then(start_of),
        limit: LIMIT,
    }
}

pub async fn search(
    State(state): State<AppState>,
    op: OperatorAuth,
    Query(form): Query<SearchForm>,
) -> Result<Response, ConsoleError> {
    let mut errors = Vec::new();
    let query = to_query(&form, &mut errors);
    let messages = if errors.is_empty() {
        state.store.search_messages(&query).await?
    } else {
        Vec::new()
    };
    page(&SearchPage {
        layout: Layout::new(&state, &op),
        form,
        states: STATES,
        errors,
        messages: messages.iter().map(MessageRow::from).collect(),
        limit: LIMIT,
    })
}

pub struct TimelineEntry {
    pub at: String,
    pub state: String,
    pub detail: Option<String>,
    pub class: &'static str,
}

#[derive(Template)]
#[template(path = "console/message.html")]
struct MessagePage {
    layout: Layout,
    m: MessageRow,
    case_href: String,
    error: Option<String>,
    flash: Option<String>,
    dead: bool,
    redrive_href: String,
    render_href: String,
    timeline: Vec<TimelineEntry>,
    receipt: Option<String>,
    /// (what, details)
    parts: Vec<(String, String)>,
    /// (tag, language name)
    languages: Vec<(String, String)>,
}

async fn load(state: &AppState, raw: &str) -> Result<MessageRecord, ConsoleError> {
    let not_found = || ConsoleError::NotFound(format!("There is no message {raw}."));
    let id: MessageId = raw.parse().map_err(|_| not_found())?;
    state.store.message(&id).await?.ok_or_else(not_found)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ShowParams {
    redriven: bool,
}

pub async fn show(
    State(state): State<AppState>,
    op: OperatorAuth,
    Path(raw): Path<String>,
    Query(params): Query<ShowParams>,
) -> Result<Response, ConsoleError> {
    let m = load(&state, &raw).await?;
    let events = state.store.message_events(&m.id).await?;
    let parts = state.store.message_parts(&m.id).await?;
    let receipt = match m.direction {
        Direction::Outbound => state.store.outbound_receipt(&m.id).await?,
        Direction::Inbound => {
            state
                .store
                .inbound_receipt(&m.id, m.peer_country.as_str())
                .await?
        }
    };
    let timeline = events
        .into_iter()
        .map(|e| TimelineEntry {
            class: match e.state.as_str() {
                "retry" | "failed" | "dead_lettered" => "bad",
                "delivered" | "received" | "acknowledged" => "good",
                _ => "",
            },
            at: when(e.at),
            state: e.state,
            detail: e.detail,
        })
        .collect();
    let error = match (&m.error_code, &m.error_detail) {
        (None, None) => None,
        (code, detail) => Some(
            [code.as_deref(), detail.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": "),
        ),
    };
    let receipt = receipt.map(|r| {
        format!(
            "{} bytes, SHA-256 {}",
            r.len(),
            hex::encode(Sha256::digest(&r))
        )
    });
    let labels = state.render.labels();
    let languages = labels
        .languages()
        .into_iter()
        .filter_map(|l| {
            labels
                .get(l)
                .map(|s| (l.to_owned(), s.language_name.clone()))
        })
        .collect();
    let href = message_href(&m.id);
    page(&MessagePage {
        layout: Layout::new(&state, &op),
        case_href: format!(
            "/console/messages?case_id={}",
            path_segment(m.case_id.as_str())
        ),
        error,
        flash: params
            .redriven
            .then(|| "Re-driven: the message is back in the outbox.".to_owned()),
        dead: matches!(m.state, MessageState::DeadLettered | MessageState::Failed),
        redrive_href: format!("{href}/redrive"),
        render_href: format!("{href}/render"),
        timeline,
        receipt,
        parts: parts
            .iter()
            .map(|p| {
                (
                    format!("{} part {}", p.part_type.as_str(), p.idx),
                    format!(
                        "{}, {} bytes, SHA-256 {}",
                        p.filename.as_deref().unwrap_or(&p.mime_type),
                        p.size,
                        p.hash
                    ),
                )
            })
            .collect(),
        languages,
        m: MessageRow::from(&m),
    })
}

pub async fn redrive(
    State(state): State<AppState>,
    op: OperatorAuth,
    Path(raw): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ConsoleError> {
    op.check_csrf(&form.csrf)?;
    let m = load(&state, &raw).await?;
    let ids = state
        .store
        .redrive(&Redrive::One(m.id.clone()), &op.actor(), Utc::now())
        .await?;
    if ids.is_empty() {
        return Err(ConsoleError::Conflict(format!(
            "Message {} is not a dead letter (state {}).",
            m.id,
            m.state.as_str()
        )));
    }
    state.outbox_wake.notify_one();
    tracing::info!(message_id = %m.id, operator = %op.name, "console: dead letter re-driven");
    Ok(Redirect::to(&format!("{}?redriven=true", message_href(&m.id))).into_response())
}

pub async fn render(
    State(state): State<AppState>,
    _op: OperatorAuth,
    Path(raw): Path<String>,
    Query(params): Query<RenderParams>,
) -> Result<Response, ConsoleError> {
    let m = load(&state, &raw).await?;
    let format = Format::parse(params.format.as_deref())?;
    Ok(render_message(&state, &m, &params.lang, format).await?)
}
