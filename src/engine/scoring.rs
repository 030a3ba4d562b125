//! The account's risk after an event: today's evidence scored against the account's normal and its
//! peers right now, and a closed day whose whole evidence passed the threshold only once it was over.

use super::*;

impl Engine {
    /// Adds the risk finding this event raises, if any, to `findings` and returns what it rests on.
    /// `scored`: the event adds evidence (sensitive reads or exports); `closed_breach`: the day this
    /// event closed, when its whole evidence breached.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn judge_risk(
        &self,
        d: &Detection,
        state: &mut AccountState,
        event: &Activity,
        prepared: &Prepared,
        scored: bool,
        closed_breach: Option<&(Day, Assessment)>,
        findings: &mut SmallVec<[Finding; 2]>,
    ) -> Option<RiskDetail> {
        let mut risk_detail = None;
        if scored {
            let today = state
                .history
                .today
                .unwrap_or_else(|| Day::new(prepared.day));
            let assessment = assess(
                Today {
                    reads: f64::from(today.reads),
                    queries: f64::from(today.queries),
                    exported: f64::from(today.exported),
                    exported_records: today.exported_records(),
                },
                &state.baseline,
                &PeerContext::now(&prepared.view),
                &state.novelty_today,
            );
            let risk = state.risk.now(&assessment);
            if let Some(today) = state.history.today_mut() {
                if assessment.own {
                    today.set_risk(risk);
                }
            }
            if risk > prepared.threshold.value && !assessment.contributing().is_empty() {
                let today = state
                    .history
                    .today
                    .unwrap_or_else(|| Day::new(prepared.day));
                risk_detail = Some(self.raise_risk(
                    d,
                    (state, event, prepared),
                    &assessment,
                    risk,
                    (today, TODAY),
                    findings,
                ));
            }
        }
        // A day whose whole evidence passed the threshold only once it was over (the group's rise seen
        // live was not the whole day's): reported now, with the account's first event after it.
        if risk_detail.is_none() {
            if let Some((closed, assessment)) = closed_breach {
                let risk = recording::closed_day_risk(state, assessment);
                risk_detail = Some(self.raise_risk(
                    d,
                    (state, event, prepared),
                    assessment,
                    risk,
                    (*closed, LAST_DAY),
                    findings,
                ));
            }
        }
        risk_detail
    }

    /// Adds the risk finding for `assessment` judged on `day` (today so far, or a closed day whole) to
    /// `findings`, and returns what it rests on (the rank among peers only for today: the report's).
    fn raise_risk(
        &self,
        d: &Detection,
        (state, event, prepared): (&AccountState, &Activity, &Prepared),
        assessment: &Assessment,
        risk: f64,
        day: (Day, &'static str),
        findings: &mut SmallVec<[Finding; 2]>,
    ) -> RiskDetail {
        let report = self.risk_report(d, state, event, prepared, assessment, risk, day);
        findings.push(risk_finding(&report));
        RiskDetail {
            risk,
            threshold: prepared.threshold.value,
            contributions: assessment.contributing(),
            rank: report.rank,
        }
    }
}
