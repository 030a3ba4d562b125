//! The properties the detection model promises, through the whole engine on small hand-made
//! organisations (see `tests/organisation`): scale-free, peers right now, a bounded time to catch a
//! sustained excess, and few innocent people paged in ordinary organisations.

mod organisation;

use organisation::*;
use proptest::prelude::*;

/// The organisation of the properties: a team of ten and `attacker`, who reads `excess` times its own
/// level from day `WEEKS` for a week; every volume times `scale`, and the whole team (attacker aside)
/// times `team_factor` on day `WEEKS + 2`.
fn property_org(seed: u64, scale: f64, team_factor: f64, excess: f64) -> Org {
    property_org_from(seed, 0.0, scale, team_factor, excess)
}

/// [`property_org`] with every level at least `least` before scaling.
fn property_org_from(seed: u64, least: f64, scale: f64, team_factor: f64, excess: f64) -> Org {
    let mut people = team(10, "support", seed);
    for who in &mut people {
        who.level = who.level.max(least) * scale;
    }
    people[0].name = "attacker".into();
    let mut org = Org::new(seed);
    org.weeks(&people, 0, WEEKS, |_, _| 1.0);
    org.weeks(&people, WEEKS, 7, |p, day| {
        let team = if day == WEEKS + 2 { team_factor } else { 1.0 };
        if p.name == "attacker" {
            excess
        } else {
            team
        }
    });
    org
}

/// The accounts alerted, each with its highest risk over the threshold it met (watchlist and rule
/// alerts carry no risk: 1).
fn alerted_by_margin(org: &mut Org) -> std::collections::BTreeMap<String, f64> {
    org.flush();
    let mut margins = std::collections::BTreeMap::new();
    for alert in &org.alerts {
        let margin = match (alert.risk, alert.risk_threshold) {
            (Some(risk), Some(threshold)) if threshold > 0.0 => risk / threshold,
            _ => 1.0,
        };
        let best = margins.entry(alert.account.clone()).or_insert(margin);
        *best = f64::max(*best, margin);
    }
    margins
}

/// What `of` alerts on and `reference` does not, leaving out accounts that passed the threshold by less
/// than `slack` (a day's counting noise or a re-estimated level can move a score by that much).
fn alerted_beyond(
    of: &std::collections::BTreeMap<String, f64>,
    reference: &std::collections::BTreeMap<String, f64>,
    slack: f64,
) -> Vec<String> {
    of.iter()
        .filter(|(account, margin)| !reference.contains_key(*account) && **margin > 1.0 + slack)
        .map(|(account, _)| account.clone())
        .collect()
}

proptest! {
    // The organisations are random and the model statistical: a rare organisation whose team happens to
    // run high through an attacker's week explains part of it away. The sample of organisations is fixed
    // so that a red run means the code changed; PROPTEST_RNG_SEED and PROPTEST_CASES draw others (forty
    // cases of each property were run at design time: one excess of x2.5 met such a week).
    #![proptest_config(ProptestConfig {
        cases: 6,
        rng_seed: proptest::test_runner::RngSeed::Fixed(15),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Scale-free: multiplying every account's volume by one factor alerts on the same accounts. Exactly
    /// so where days are large enough for their counting noise to be negligible beside the day-to-day
    /// spread (a day of n is uncertain by 1/√n on the log scale, which the score counts: five rows
    /// against a normal of one is no five-sigma day); from 300 a day it moves a score by a few percent,
    /// so an account that passes the threshold by less than 5% in one run may stay under it in the other.
    #[test]
    fn scaling_every_volume_by_one_factor_alerts_on_the_same_accounts(
        seed in 20u64..1_000,
        scale in 1.0f64..8.0,
    ) {
        let reference = alerted_by_margin(&mut property_org_from(seed, 300.0, 1.0, 1.0, 5.0));
        let scaled = alerted_by_margin(&mut property_org_from(seed, 300.0, scale, 1.0, 5.0));
        prop_assert!(reference.contains_key("attacker") && scaled.contains_key("attacker"), "{reference:?} {scaled:?}");
        prop_assert_eq!(alerted_beyond(&scaled, &reference, 0.05), Vec::<String>::new());
        prop_assert_eq!(alerted_beyond(&reference, &scaled, 0.05), Vec::<String>::new());
    }

    /// Peers right now: a whole group multiplied together (an outage, a recall) raises nothing that the
    /// same organisation without that day does not raise.
    #[test]
    fn a_whole_group_multiplied_together_raises_nothing(
        seed in 20u64..1_000,
        factor in 1.5f64..4.0,
    ) {
        let reference = alerted_by_margin(&mut property_org(seed, 1.0, 1.0, 1.0));
        let surge = alerted_by_margin(&mut property_org(seed, 1.0, factor, 1.0));
        prop_assert_eq!(alerted_beyond(&surge, &reference, 0.05), Vec::<String>::new());
    }
    /// A sustained excess of `x` times an account's own level is caught within the bound the
    /// accumulation gives: each day adds its z-score less the allowance, z = ln(x) / s with s the
    /// account's spread (at most 0.45 here: a 0.3 day-to-day spread, widened by the counting noise and a
    /// four-week history), and the threshold (at most 6.5) is passed after ceil(6.5 / (z − 0.5)) days,
    /// plus one for the day the reference learns nothing from.
    #[test]
    fn a_sustained_excess_over_its_own_level_is_caught_within_the_accumulations_bound(
        seed in 20u64..1_000,
        excess in 2.5f64..8.0,
    ) {
        let mut org = property_org(seed, 1.0, 1.0, excess);
        let z = excess.ln() / 0.45;
        let bound = (6.5 / (z - exfilwatch::detect::risk::ALLOWANCE)).ceil() + 1.0;
        let caught = org.caught_after("attacker", WEEKS);
        prop_assert!(caught.is_some_and(|d| d <= bound), "x{excess:.1}: caught after {caught:?}, bound {bound} days");
    }
}

/// Ordinary organisations (a support team of 14 and a billing team of 8, five weeks, 30 seeds) page
/// few innocent people. Measured: 4 accounts over 16,500 account-days (0.24 per 1,000, against the
/// configured budget of 0.1: small teams measure their common mode and young levels noisily). The bound
/// guards that rate against regressions without being met by luck of one seed.
#[test]
fn ordinary_organisations_page_few_innocent_people() {
    const SEEDS: u64 = 30;
    let mut paged = Vec::new();
    for seed in 0..SEEDS {
        let people: Vec<Person> = team(14, "support", 100 + seed)
            .into_iter()
            .chain(team(8, "billing", 200 + seed))
            .collect();
        let mut org = Org::new(300 + seed);
        org.weeks(&people, 0, WEEKS + 7, |_, _| 1.0);
        paged.extend(
            org.alerted()
                .into_iter()
                .map(|a| format!("seed {seed}: {a}")),
        );
    }
    let account_days = SEEDS * 22 * 25;
    // At most 6 accounts (0.36 per 1,000 account-days).
    assert!(
        paged.len() <= 6,
        "{} accounts paged over {account_days} account-days: {paged:#?}",
        paged.len()
    );
}
