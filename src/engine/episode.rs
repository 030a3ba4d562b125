//! Alert episodes: one alert per account and episode, whatever the number of rules it breaches.
//!
//! A SOC's queue counts incidents, not rule hits: a 24,000-row dump breaches the table-dump ceiling and
//! the accumulated risk at once, and that is one alert listing both. An episode opens with the first
//! breach of any rule and absorbs the repeats; it escalates (same episode, next level: a new alert that
//! updates it) when another rule joins it or its worst ratio has grown by `escalation_factor` since its
//! last alert; it closes once an event of the account was judged and nothing breached, the cooldown
//! after the last breach. A breach after a silence with nothing judged in between (the next morning of
//! an insider whose risk stays high) continues the episode. Pure: the caller passes event times, never
//! a clock.

use serde::{Deserialize, Serialize};

/// The account's open episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    /// Trigger time and event of the alert that opened the episode: they make ids deterministic.
    pub opened_at_ms: i64,
    pub opening_event_id: String,
    /// 1 for the first alert, +1 per escalation.
    pub level: u32,
    pub last_breach_ms: i64,
    /// The worst ratio alerted on so far.
    pub last_ratio: f64,
    /// Rules that breached in the episode: bits of [`crate::detect::rules::RULE_NAMES`].
    pub rules: u8,
}

/// What to do with a breach.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Publish an alert for this episode at this level, listing `rules` (every rule in the episode).
    Alert {
        opened_at_ms: i64,
        opening_event_id: String,
        level: u32,
        rules: u8,
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
    /// Breaches of the rules in `rules` (bits), the worst at `ratio`, at `time_ms` by `event_id`.
    pub fn on_breach(
        &self,
        episode: &mut Option<Episode>,
        rules: u8,
        ratio: f64,
        time_ms: i64,
        event_id: &str,
    ) -> Decision {
        if let Some(open) = episode.as_mut() {
            open.last_breach_ms = open.last_breach_ms.max(time_ms);
            let joined = rules & !open.rules != 0;
            open.rules |= rules;
            if joined || ratio >= open.last_ratio * self.escalation_factor {
                open.level += 1;
                open.last_ratio = open.last_ratio.max(ratio);
                return Decision::Alert {
                    opened_at_ms: open.opened_at_ms,
                    opening_event_id: open.opening_event_id.clone(),
                    level: open.level,
                    rules: open.rules,
                };
            }
            return Decision::Duplicate;
        }
        *episode = Some(Episode {
            opened_at_ms: time_ms,
            opening_event_id: event_id.to_string(),
            level: 1,
            last_breach_ms: time_ms,
            last_ratio: ratio,
            rules,
        });
        Decision::Alert {
            opened_at_ms: time_ms,
            opening_event_id: event_id.to_string(),
            level: 1,
            rules,
        }
    }

    /// An event at `time_ms` was judged and nothing breached: the episode closes once the cooldown has
    /// passed since its last breach.
    pub fn on_quiet(&self, episode: &mut Option<Episode>, time_ms: i64) {
        if episode
            .as_ref()
            .is_some_and(|e| time_ms.saturating_sub(e.last_breach_ms) >= self.cooldown_ms)
        {
            *episode = None;
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
    fn repeats_are_duplicates_and_doubling_or_a_new_rule_escalates() {
        let mut ep = None;
        assert_eq!(
            level(&POLICY.on_breach(&mut ep, 0b01, 1.1, 0, "e1")),
            Some(1)
        );
        assert_eq!(level(&POLICY.on_breach(&mut ep, 0b01, 1.5, 10, "e2")), None);
        assert_eq!(
            level(&POLICY.on_breach(&mut ep, 0b01, 2.3, 20, "e3")),
            Some(2)
        );
        let joined = POLICY.on_breach(&mut ep, 0b10, 1.0, 30, "e4");
        assert_eq!(level(&joined), Some(3));
        assert!(matches!(joined, Decision::Alert { rules: 0b11, .. }));
        assert_eq!(level(&POLICY.on_breach(&mut ep, 0b11, 1.0, 40, "e5")), None);
    }

    #[test]
    fn the_episode_closes_after_a_quiet_cooldown_and_the_next_breach_opens_a_new_one() {
        let mut ep = None;
        POLICY.on_breach(&mut ep, 1, 1.2, 0, "e1");
        POLICY.on_quiet(&mut ep, 1_000);
        assert!(ep.is_some(), "still within the cooldown");
        POLICY.on_quiet(&mut ep, 3_600_000);
        assert!(ep.is_none());
        let again = POLICY.on_breach(&mut ep, 1, 1.2, 3_700_000, "e9");
        assert!(
            matches!(again, Decision::Alert { level: 1, ref opening_event_id, .. } if opening_event_id == "e9")
        );
    }

    #[test]
    fn a_breach_after_a_silence_with_nothing_judged_continues_the_episode() {
        let mut ep = None;
        POLICY.on_breach(&mut ep, 1, 1.2, 0, "e1");
        // The next morning, still breaching: no new alert.
        assert_eq!(
            POLICY.on_breach(&mut ep, 1, 1.3, 15 * 3_600_000, "e2"),
            Decision::Duplicate
        );
    }
}
