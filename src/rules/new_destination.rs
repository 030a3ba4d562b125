//! `new_destination`: sensitive data exported somewhere this account has not sent data to within the
//! retention period. External destinations weigh four times internal ones.

use super::{EvalContext, Finding, Rule, Verdict};
use crate::accounts::AccountState;
use crate::config::{NewDestinationConfig, RuleMode};
use crate::event::ActivityKind;

pub(super) const NAME: &str = "new_destination";

/// T1048 Exfiltration Over Alternative Protocol; T1567.002 Exfiltration to Cloud Storage; T1537
/// Transfer Data to Cloud Account.
const MITRE: &[&str] = &["T1048", "T1567.002", "T1537"];

#[derive(Debug, Clone)]
pub struct NewDestinationRule {
    config: NewDestinationConfig,
}

impl NewDestinationRule {
    pub fn from_config(config: &NewDestinationConfig) -> Self {
        NewDestinationRule {
            config: config.clone(),
        }
    }
}

impl Rule for NewDestinationRule {
    fn name(&self) -> &'static str {
        NAME
    }

    fn mode(&self) -> RuleMode {
        self.config.mode
    }

    fn evaluate(&self, ctx: &EvalContext<'_>, state: &mut AccountState) -> Verdict {
        if ctx.event.kind != ActivityKind::Export || ctx.event.destination.is_none() {
            return Verdict::NotApplicable;
        }
        let n = ctx.novelty;
        if !n.new_destination || n.destination_allowed {
            return Verdict::Clear;
        }
        let bytes = ctx.event.bytes.unwrap_or(0);
        let big_enough =
            ctx.exported_records >= self.config.min_records || bytes >= self.config.min_bytes;
        if !big_enough {
            return Verdict::Clear;
        }
        // The ratio drives the score: 1x for a new internal destination, 4x for an external one.
        let ratio = if n.destination_internal { 1.0 } else { 4.0 };
        let (observed, unit) = if ctx.exported_records > 0 {
            (ctx.exported_records as f64, "records")
        } else {
            (bytes as f64, "bytes")
        };
        let time = ctx.event.event_time_ms;
        Verdict::Breach(Finding {
            rule: NAME,
            window_label: "event".into(),
            window_start_ms: time,
            window_end_ms: state.newest_event_ms.max(time),
            observed,
            threshold: None,
            baseline: None,
            peer_baseline: None,
            unit,
            ratio,
            event_count: 1,
            mitre_techniques: MITRE,
            action: "exported",
            detail: Some(format!(
                "to {}, {} destination neither it nor its peers used in the last {} days",
                crate::engine::destination_identity(
                    ctx.event.destination.as_deref().unwrap_or_default()
                ),
                if n.destination_internal {
                    "an internal"
                } else {
                    "an external"
                },
                self.config.retention.as_secs() / 86_400
            )),
        })
    }
}
