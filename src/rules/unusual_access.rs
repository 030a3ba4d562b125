//! `unusual_access`: sensitive reads from a client address or application never seen for the account,
//! or at an hour of the week it never works — what stolen credentials look like. Each signal alone
//! needs a sizeable read; two or more together need only a tenth of it.

use super::{EvalContext, Finding, Rule, Verdict};
use crate::accounts::AccountState;
use crate::config::{RuleMode, UnusualAccessConfig};

pub(super) const NAME: &str = "unusual_access";

/// T1078 Valid Accounts (used by someone else); T1213.006 Databases.
const MITRE: &[&str] = &["T1078", "T1213.006"];

#[derive(Debug, Clone)]
pub struct UnusualAccessRule {
    config: UnusualAccessConfig,
}

impl UnusualAccessRule {
    pub fn from_config(config: &UnusualAccessConfig) -> Self {
        UnusualAccessRule {
            config: config.clone(),
        }
    }
}

impl Rule for UnusualAccessRule {
    fn name(&self) -> &'static str {
        NAME
    }

    fn mode(&self) -> RuleMode {
        self.config.mode
    }

    fn evaluate(&self, ctx: &EvalContext<'_>, state: &mut AccountState) -> Verdict {
        if ctx.sensitive_records == 0 || ctx.days_known < self.config.warmup_days {
            return Verdict::NotApplicable;
        }
        let n = ctx.novelty;
        let signals =
            u64::from(n.new_client_ip) + u64::from(n.new_client_app) + u64::from(n.unusual_hour);
        if signals == 0 {
            return Verdict::Clear;
        }
        let needed = if signals >= 2 {
            (self.config.min_records / 10).max(1)
        } else {
            self.config.min_records
        };
        if ctx.sensitive_records < needed {
            return Verdict::Clear;
        }
        let ratio = (ctx.sensitive_records as f64 / needed as f64) * signals as f64;
        let time = ctx.event.event_time_ms;
        Verdict::Breach(Finding {
            rule: NAME,
            window_label: "event".into(),
            window_start_ms: time,
            window_end_ms: state.newest_event_ms.max(time),
            observed: ctx.sensitive_records as f64,
            threshold: Some(needed as f64),
            baseline: None,
            peer_baseline: None,
            unit: "records",
            ratio,
            event_count: 1,
            mitre_techniques: MITRE,
            action: "read",
            detail: Some({
                let mut what = Vec::new();
                if n.new_client_ip {
                    what.push("from a client address it never used");
                }
                if n.new_client_app {
                    what.push("with an application it never used");
                }
                if n.unusual_hour {
                    what.push("at an hour of the week it never works");
                }
                what.join(", ")
            }),
        })
    }
}
