//! What the admin dashboard reads: the overview (ceremonies per day, failures by code,
//! authenticator models, synced versus device-bound passkeys), audit log queries and their JSON
//! lines export, and user search. Read-only; changes go through the services that record them.

use crate::admin::is_reserved;
use crate::error::{ApiError, ApiResult};
use crate::service::{now_ms, Service};
use crate::views::{timestamp, UserView};
use passkeyd_core::b64;
use passkeyd_store::{AuditEntry, AuditFilter, Millis};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const DAY_MS: i64 = 86_400_000;
/// The most entries one export holds.
const EXPORT_LIMIT: usize = 100_000;

/// One day of the overview chart.
#[derive(Debug, Serialize)]
pub struct DayStats {
    /// The day, `YYYY-MM-DD` (UTC).
    pub date: String,
    /// Passkeys registered.
    pub registrations: i64,
    /// Successful sign-ins.
    pub signins: i64,
    /// Failed registrations and sign-ins.
    pub failures: i64,
}

/// A count under a name.
#[derive(Debug, Serialize)]
pub struct Count {
    /// What is counted (an error code, a model name).
    pub name: String,
    /// How many.
    pub count: i64,
}

/// The overview page.
#[derive(Debug, Serialize)]
pub struct Overview {
    /// One entry per day, oldest first, today last.
    pub days: Vec<DayStats>,
    /// Failures in the period by error code, most frequent first.
    pub failures_by_code: Vec<Count>,
    /// Passkeys by authenticator model, most used first.
    pub models: Vec<Count>,
    /// Passkeys that may be synced (BE set).
    pub synced: i64,
    /// Passkeys bound to one device.
    pub device_bound: i64,
}

/// Audit log filters, as the admin API's query string has them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this app.
    #[serde(default)]
    pub app: Option<String>,
    /// Only this event type.
    #[serde(default)]
    pub event: Option<String>,
    /// Only this user (external id).
    #[serde(default)]
    pub user: Option<String>,
    /// `success` or `failure`.
    #[serde(default)]
    pub outcome: Option<String>,
    /// At or after (RFC 3339).
    #[serde(default)]
    pub since: Option<String>,
    /// Before (RFC 3339).
    #[serde(default)]
    pub until: Option<String>,
    /// The previous page's `next_cursor`.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Entries per page, 1 to 200 (default 50).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// An audit entry as the API shows it.
#[derive(Debug, Serialize)]
pub struct AuditView {
    /// Entry id.
    pub id: String,
    /// When (RFC 3339).
    pub at: String,
    /// The app.
    pub app_id: Option<String>,
    /// The event type.
    pub event: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// The error code of a failure.
    pub error_code: Option<String>,
    /// The user (external id).
    pub external_id: Option<String>,
    /// The passkey.
    pub passkey_id: Option<String>,
    /// Who acted.
    pub actor: String,
    /// The client's IP.
    pub ip: Option<String>,
    /// The client's User-Agent.
    pub user_agent: Option<String>,
    /// More about it.
    pub detail: serde_json::Value,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> Self {
        AuditView {
            at: timestamp(e.at),
            detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
            id: e.id,
            app_id: e.app_id,
            event: e.event,
            outcome: e.outcome,
            error_code: e.error_code,
            external_id: e.user_id,
            passkey_id: e.passkey_id,
            actor: e.actor,
            ip: e.ip,
            user_agent: e.user_agent,
        }
    }
}

/// One page of the audit log.
#[derive(Debug, Serialize)]
pub struct AuditPage {
    /// Entries, newest first.
    pub data: Vec<AuditView>,
    /// Pass as `cursor` for the next (older) page; null on the last.
    pub next_cursor: Option<String>,
}

fn parse_time(field: &str, value: &str) -> ApiResult<Millis> {
    let t = OffsetDateTime::parse(value, &Rfc3339).map_err(|_| {
        ApiError::invalid(
            field,
            "must be an RFC 3339 time such as 2025-01-31T12:00:00Z",
        )
    })?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| ApiError::invalid(field, "is out of range"))
}

fn date_of(day: i64) -> String {
    timestamp(day * DAY_MS).chars().take(10).collect()
}

impl AuditQuery {
    fn filter(&self) -> ApiResult<AuditFilter> {
        let text = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
        let outcome = text(&self.outcome);
        if let Some(o) = &outcome {
            if o != "success" && o != "failure" {
                return Err(ApiError::invalid("outcome", "must be success or failure"));
            }
        }
        let before =
            match self.cursor.as_deref().filter(|c| !c.is_empty()) {
                None => None,
                Some(c) => {
                    let decoded = b64::decode(c)
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                        .and_then(|s| {
                            let (at, id) = s.split_once(':')?;
                            Some((at.parse::<i64>().ok()?, id.to_owned()))
                        });
                    Some(decoded.ok_or_else(|| {
                        ApiError::invalid("cursor", "not a cursor this API returned")
                    })?)
                }
            };
        Ok(AuditFilter {
            app_id: text(&self.app),
            event: text(&self.event),
            user_id: text(&self.user),
            outcome,
            since: text(&self.since)
                .map(|s| parse_time("since", &s))
                .transpose()?,
            until: text(&self.until)
                .map(|s| parse_time("until", &s))
                .transpose()?,
            before,
        })
    }
}

impl Service {
    /// The overview of the last `days` days, for one app or all of them.
    pub async fn overview(&self, app: Option<&str>, days: Option<u32>) -> ApiResult<Overview> {
        let days = i64::from(days.unwrap_or(30));
        if !(1..=366).contains(&days) {
            return Err(ApiError::invalid("days", "must be 1 to 366"));
        }
        let app = app.filter(|a| !a.is_empty());
        if let Some(id) = app {
            self.load_app(id).await?;
        }
        let today = now_ms().div_euclid(DAY_MS);
        let first = today - days + 1;
        let mut per_day: BTreeMap<i64, DayStats> = (first..=today)
            .map(|d| {
                let stats = DayStats {
                    date: date_of(d),
                    registrations: 0,
                    signins: 0,
                    failures: 0,
                };
                (d, stats)
            })
            .collect();
        let mut codes: BTreeMap<String, i64> = BTreeMap::new();
        self.audit.flush().await;
        for c in self.store.audit_counts(app, first * DAY_MS).await? {
            let Some(day) = per_day.get_mut(&c.day) else {
                continue;
            };
            match c.event.as_str() {
                "passkey.created" => day.registrations += c.count,
                "signin.succeeded" => day.signins += c.count,
                "signin.failed" | "registration.failed" => {
                    day.failures += c.count;
                    let code = c.error_code.unwrap_or_else(|| "unknown".to_owned());
                    *codes.entry(code).or_default() += c.count;
                }
                _ => {}
            }
        }
        let apps: Vec<String> = match app {
            Some(id) => vec![id.to_owned()],
            None => self
                .store
                .list_apps()
                .await?
                .into_iter()
                .map(|a| a.id)
                .filter(|id| !is_reserved(id))
                .collect(),
        };
        let (mut synced, mut device_bound) = (0, 0);
        let mut models: BTreeMap<String, i64> = BTreeMap::new();
        for id in apps {
            for c in self.store.passkey_counts(&id).await? {
                if c.backup_eligible {
                    synced += c.count;
                } else {
                    device_bound += c.count;
                }
                let name = self
                    .names
                    .name(&c.aaguid)
                    .map_or_else(|| format!("Unknown model ({})", c.aaguid), str::to_owned);
                *models.entry(name).or_default() += c.count;
            }
        }
        let sorted = |map: BTreeMap<String, i64>| {
            let mut list: Vec<Count> = map
                .into_iter()
                .map(|(name, count)| Count { name, count })
                .collect();
            list.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
            list
        };
        Ok(Overview {
            days: per_day.into_values().collect(),
            failures_by_code: sorted(codes),
            models: sorted(models),
            synced,
            device_bound,
        })
    }

    /// One page of the audit log.
    pub async fn audit_page(&self, query: &AuditQuery) -> ApiResult<AuditPage> {
        let limit = query.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(ApiError::invalid("limit", "must be 1 to 200"));
        }
        let filter = query.filter()?;
        self.audit.flush().await;
        let mut entries = self.store.list_audit_entries(&filter, limit + 1).await?;
        let more = entries.len() > limit as usize;
        entries.truncate(limit as usize);
        let next_cursor = more
            .then(|| {
                entries
                    .last()
                    .map(|e| b64::encode(format!("{}:{}", e.at, e.id).as_bytes()))
            })
            .flatten();
        Ok(AuditPage {
            data: entries.into_iter().map(AuditView::from).collect(),
            next_cursor,
        })
    }

    /// One audit entry.
    pub async fn audit_entry(&self, id: &str) -> ApiResult<AuditView> {
        self.audit.flush().await;
        self.store
            .get_audit_entry(id)
            .await?
            .map(AuditView::from)
            .ok_or_else(|| {
                ApiError::not_found("audit_entry_not_found", format!("no audit entry {id:?}"))
            })
    }

    /// Every matching entry (newest first, at most 100 000) as JSON lines.
    pub async fn audit_export(&self, query: &AuditQuery) -> ApiResult<String> {
        let mut filter = query.filter()?;
        self.audit.flush().await;
        let mut out = String::new();
        let mut written = 0;
        loop {
            let page = self.store.list_audit_entries(&filter, 1000).await?;
            let Some(last) = page.last() else { break };
            filter.before = Some((last.at, last.id.clone()));
            let full = page.len() == 1000;
            for entry in page {
                let line =
                    serde_json::to_string(&AuditView::from(entry)).map_err(ApiError::internal)?;
                out.push_str(&line);
                out.push('\n');
                written += 1;
            }
            if !full || written >= EXPORT_LIMIT {
                break;
            }
        }
        Ok(out)
    }

    /// Users of an app whose external id or username contains `text` (all users, by external
    /// id, when it is empty); at most 50.
    pub async fn search_users(&self, app_id: &str, text: &str) -> ApiResult<Vec<UserView>> {
        self.load_app(app_id).await?;
        let text = text.trim();
        if text.chars().count() > 256 {
            return Err(ApiError::invalid("q", "must be at most 256 characters"));
        }
        let users = if text.is_empty() {
            self.store.list_users(app_id, None, 50).await?
        } else {
            self.store.search_users(app_id, text, 50).await?
        };
        Ok(users.iter().map(UserView::from).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_times_outcomes_and_cursors() {
        let q = AuditQuery {
            since: Some("1970-01-02T00:00:00Z".into()),
            outcome: Some("failure".into()),
            cursor: Some(b64::encode(b"5:aud_x")),
            app: Some(String::new()),
            ..AuditQuery::default()
        };
        let f = q.filter().unwrap();
        assert_eq!(f.since, Some(DAY_MS));
        assert_eq!(f.before, Some((5, "aud_x".into())));
        assert_eq!(f.app_id, None, "an empty filter is no filter");
        for bad in [
            AuditQuery {
                outcome: Some("maybe".into()),
                ..AuditQuery::default()
            },
            AuditQuery {
                since: Some("yesterday".into()),
                ..AuditQuery::default()
            },
            AuditQuery {
                cursor: Some("!!".into()),
                ..AuditQuery::default()
            },
        ] {
            assert_eq!(bad.filter().unwrap_err().code, "invalid_request");
        }
        assert_eq!(date_of(1), "1970-01-02");
    }
}
