//! Alert episodes: one alert per breach episode per account and rule, a new one when it grows.
//!
//! Without this an insider paging through customers would raise an alert on every query past the
//! threshold. An episode opens with the first breach, absorbs repeats, escalates when the worst ratio has
//! grown by `escalation_factor` since the last alert, and closes once the rule stopped breaching and the
//! cooldown since its last alert has passed. Pure: the caller passes event times, never a clock.

use crate::accounts::Episode;

/// What to do with a breach.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Publish an alert for this episode at this level.
    Alert {
        opened_at_ms: i64,
        opening_event_id: String,
        level: u32,
    },
    /// Part of an episode already alerted on.
    Duplicate,
}

/// Episode policy from config.
#[derive(Debug, Clone, Copy)]
pub struct EpisodePolicy {
    pub escalation_factor: f64,
    pub cooldown_ms: i64,
}

impl EpisodePolicy {
    /// A breach of `rule` with `ratio` at event time `time_ms` by event `event_id`.
    pub fn on_breach(
        &self,
        episodes: &mut Vec<Episode>,
        rule: &str,
        ratio: f64,
        time_ms: i64,
        event_id: &str,
    ) -> Decision {
        if let Some(open) = episodes.iter_mut().find(|e| e.rule == rule) {
            let cooled = time_ms.saturating_sub(open.last_alert_ms) >= self.cooldown_ms;
            if !(open.quiet && cooled) {
                // Breaching again inside the cooldown resumes the same episode.
                open.quiet = false;
                if ratio >= open.last_ratio * self.escalation_factor {
                    open.level += 1;
                    open.last_alert_ms = time_ms;
                    open.last_ratio = ratio;
                    return Decision::Alert {
                        opened_at_ms: open.opened_at_ms,
                        opening_event_id: open.opening_event_id.clone(),
                        level: open.level,
                    };
                }
                return Decision::Duplicate;
            }
            episodes.retain(|e| e.rule != rule);
        }
        episodes.push(Episode {
            rule: rule.to_string(),
            opened_at_ms: time_ms,
            opening_event_id: event_id.to_string(),
            level: 1,
            last_alert_ms: time_ms,
            last_ratio: ratio,
            quiet: false,
        });
        Decision::Alert {
            opened_at_ms: time_ms,
            opening_event_id: event_id.to_string(),
            level: 1,
        }
    }

    /// The rule evaluated without breaching at `time_ms`: mark the episode quiet, and forget it once the
    /// cooldown since its last alert has passed.
    pub fn on_quiet(&self, episodes: &mut Vec<Episode>, rule: &str, time_ms: i64) {
        let Some(position) = episodes.iter().position(|e| e.rule == rule) else {
            return;
        };
        let open = &mut episodes[position];
        if time_ms.saturating_sub(open.last_alert_ms) >= self.cooldown_ms {
            episodes.remove(position);
        } else {
            open.quiet = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: EpisodePolicy = EpisodePolicy {
        escalation_factor: 2.0,
        cooldown_ms: 3_600_000,
    };

    fn level(decision: &Decision) -> Option<u32> {
        match decision {
            Decision::Alert { level, .. } => Some(*level),
            Decision::Duplicate => None,
        }
    }

    #[test]
    fn repeats_are_duplicates_and_doubling_escalates() {
        let mut eps = Vec::new();
        assert_eq!(
            level(&POLICY.on_breach(&mut eps, "r", 1.1, 0, "e1")),
            Some(1)
        );
        assert_eq!(level(&POLICY.on_breach(&mut eps, "r", 1.5, 10, "e2")), None);
        assert_eq!(
            level(&POLICY.on_breach(&mut eps, "r", 2.3, 20, "e3")),
            Some(2)
        );
        assert_eq!(level(&POLICY.on_breach(&mut eps, "r", 4.0, 30, "e4")), None);
        assert_eq!(
            level(&POLICY.on_breach(&mut eps, "r", 4.6, 40, "e5")),
            Some(3)
        );
    }

    #[test]
    fn escalations_keep_the_opening_identity() {
        let mut eps = Vec::new();
        POLICY.on_breach(&mut eps, "r", 1.0, 5, "first");
        match POLICY.on_breach(&mut eps, "r", 3.0, 9, "later") {
            Decision::Alert {
                opened_at_ms,
                opening_event_id,
                level,
            } => {
                assert_eq!(
                    (opened_at_ms, opening_event_id.as_str(), level),
                    (5, "first", 2)
                );
            }
            Decision::Duplicate => panic!("expected escalation"),
        }
    }

    #[test]
    fn a_new_episode_needs_a_quiet_spell_and_the_cooldown() {
        let mut eps = Vec::new();
        POLICY.on_breach(&mut eps, "r", 1.2, 0, "e1");
        POLICY.on_quiet(&mut eps, "r", 1_000);
        // Quiet but inside the cooldown: still the same episode.
        assert_eq!(
            level(&POLICY.on_breach(&mut eps, "r", 1.2, 2_000, "e2")),
            None
        );
        POLICY.on_quiet(&mut eps, "r", 3_600_001);
        assert!(eps.is_empty(), "episode forgotten after cooldown");
        match POLICY.on_breach(&mut eps, "r", 1.2, 3_700_000, "e3") {
            Decision::Alert {
                opening_event_id,
                level,
                ..
            } => {
                assert_eq!((opening_event_id.as_str(), level), ("e3", 1));
            }
            Decision::Duplicate => panic!("expected a new episode"),
        }
    }

    #[test]
    fn continuous_breach_past_cooldown_stays_one_episode() {
        let mut eps = Vec::new();
        POLICY.on_breach(&mut eps, "r", 1.2, 0, "e1");
        assert_eq!(
            level(&POLICY.on_breach(&mut eps, "r", 1.3, 10_000_000, "e2")),
            None
        );
    }

    #[test]
    fn rules_have_separate_episodes() {
        let mut eps = Vec::new();
        assert_eq!(
            level(&POLICY.on_breach(&mut eps, "a", 1.0, 0, "e1")),
            Some(1)
        );
        assert_eq!(
            level(&POLICY.on_breach(&mut eps, "b", 1.0, 0, "e1")),
            Some(1)
        );
    }
}
