//! What the groups of each partition use: the destinations their members export to (and the
//! organisation's, per partition), the sensitive tables they read, the client applications they use
//! and the hours of the week they work.
//! An account's first use of a value its group already uses is not news (an export to the team's
//! warehouse is not a new destination), and a value new to the group is as surprising as the group's
//! own history of new values says (Good–Turing over member-days).

use dashmap::DashMap;

use crate::detect::novelty::HOURS_PER_WEEK;
use crate::engine::accounts::PartitionRef;

/// Destinations remembered per group (and per partition's organisation).
const DESTINATIONS_KEPT: usize = 512;

/// A destination a group used: (partition, destination hash, last day).
type GroupDestination = (Option<PartitionRef>, u64, i32);
/// What a group uses in a partition: (partition, kind, usage).
type GroupHabit = (Option<PartitionRef>, Habit, Usage);

/// A destination the organisation (a partition's accounts) exported to.
#[derive(Debug, Clone, Copy)]
struct OrganisationDestination {
    hash: u64,
    last_day: i32,
    /// The one account that used it, while only one did within the retention: a private channel out
    /// of the organisation (see [`crate::detect::rules::PrivateExports`]). `None` once shared.
    sole_user: Option<u64>,
}

/// How new an export's destination is to the account's group and organisation, judged before the
/// export is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DestinationNews {
    pub new_to_group: bool,
    pub new_to_organisation: bool,
    /// Nobody in the organisation but this account used it within the retention (new to the
    /// organisation included).
    pub private: bool,
}

/// What a group's members use, judged like an account's own values (see [`GroupUsage::news`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Habit {
    SensitiveTable,
    ClientApplication,
}

/// The values of one habit of a group: (hash, last day, member-days), and the counts behind
/// Good–Turing over member-days (see [`crate::detect::novelty`]).
#[derive(Debug, Clone, Default)]
struct Usage {
    values: Vec<(u64, i32, u32)>,
    observations: u32,
    singles: u32,
}

/// The hours of the week a group works in a partition: the last day a member was active in each.
type GroupHours = (Option<PartitionRef>, Box<[i32; HOURS_PER_WEEK]>);

/// Values remembered per group and habit.
const HABITS_KEPT: usize = 256;

/// The destinations and habits of every group, per partition.
#[derive(Debug, Default)]
pub struct GroupUsage {
    /// group → (partition, destination hash, last day).
    group_destinations: DashMap<String, Vec<GroupDestination>, ahash::RandomState>,
    /// partition → what the organisation uses.
    organisation_destinations:
        DashMap<Option<PartitionRef>, Vec<OrganisationDestination>, ahash::RandomState>,
    /// group → the sensitive tables its members read and the client applications they use, per
    /// partition and kind.
    habits: DashMap<String, Vec<GroupHabit>, ahash::RandomState>,
    /// group → the hours of the week its members work, per partition (a slot per hour: every member's
    /// first event of each hour touches it, so it must cost no search).
    hours: DashMap<String, Vec<GroupHours>, ahash::RandomState>,
}

impl GroupUsage {
    /// Forgets what the groups of revoked partitions used.
    pub fn forget(&self, partitions: &[PartitionRef]) {
        let revoked = |p: &Option<PartitionRef>| p.is_some_and(|p| partitions.contains(&p));
        for partition in partitions {
            self.organisation_destinations.remove(&Some(*partition));
        }
        self.group_destinations
            .iter_mut()
            .for_each(|mut list| list.retain(|(p, _, _)| !revoked(p)));
        self.habits
            .iter_mut()
            .for_each(|mut list| list.retain(|(p, _, _)| !revoked(p)));
        self.hours
            .iter_mut()
            .for_each(|mut list| list.retain(|(p, _)| !revoked(p)));
    }

    /// The last day a member of `group` in `partition` was active in hour of the week `slot`.
    fn last_day_in_hour(
        &self,
        group: &str,
        partition: Option<PartitionRef>,
        slot: usize,
    ) -> Option<i32> {
        let list = self.hours.get(group)?;
        list.iter()
            .find(|(p, _)| *p == partition)
            .and_then(|(_, days)| days.get(slot).copied())
    }

    /// Whether a member of `group` in `partition` was active in hour of the week `slot` on `since_day`
    /// or later.
    pub fn works_hour(
        &self,
        group: &str,
        partition: Option<PartitionRef>,
        slot: usize,
        since_day: i32,
    ) -> bool {
        self.last_day_in_hour(group, partition, slot)
            .is_some_and(|day| day >= since_day)
    }

    /// Records that a member of `group` was active in hour of the week `slot` on `day`.
    pub fn touch_hour(&self, group: &str, partition: Option<PartitionRef>, slot: usize, day: i32) {
        // Most touches find the hour already marked today: a shared lock suffices for those.
        if self.works_hour(group, partition, slot, day) {
            return;
        }
        let mut list = match self.hours.get_mut(group) {
            Some(list) => list,
            None => self.hours.entry(group.to_string()).or_default(),
        };
        let index = match list.iter().position(|(p, _)| *p == partition) {
            Some(index) => index,
            None => {
                list.push((partition, Box::new([i32::MIN; HOURS_PER_WEEK])));
                list.len() - 1
            }
        };
        if let Some(last) = list.get_mut(index).and_then(|(_, days)| days.get_mut(slot)) {
            *last = (*last).max(day);
        }
    }

    /// How new `hash` is to `group` and the organisation for an export by `account` (a fast hash of
    /// its name), judged before the export is recorded; uses before `since_day` are forgotten.
    pub fn destination_news(
        &self,
        group: &str,
        partition: Option<PartitionRef>,
        (hash, account): (u64, u64),
        since_day: i32,
    ) -> DestinationNews {
        let group_known = self.group_destinations.get(group).is_some_and(|list| {
            list.iter()
                .any(|&(p, h, day)| p == partition && h == hash && day >= since_day)
        });
        let used = self
            .organisation_destinations
            .get(&partition)
            .and_then(|list| {
                list.iter()
                    .find(|d| d.hash == hash && d.last_day >= since_day)
                    .map(|d| d.sole_user)
            });
        DestinationNews {
            new_to_group: !group_known,
            new_to_organisation: used.is_none(),
            private: used.is_none_or(|sole| sole == Some(account)),
        }
    }

    /// Records that `account` (a fast hash of its name) of `group` exported to `hash` on `day`; uses
    /// before `since_day` are forgotten.
    pub fn touch_destination(
        &self,
        group: &str,
        partition: Option<PartitionRef>,
        (hash, account): (u64, u64),
        (day, since_day): (i32, i32),
    ) {
        {
            let mut list = match self.group_destinations.get_mut(group) {
                Some(list) => list,
                None => self
                    .group_destinations
                    .entry(group.to_string())
                    .or_default(),
            };
            let (entry, _) = find_or_add(
                &mut list,
                |&(p, h, _)| (p, h) == (partition, hash),
                |e| e.2,
                || (partition, hash, day),
            );
            entry.2 = entry.2.max(day);
        }
        let mut list = self.organisation_destinations.entry(partition).or_default();
        let (entry, added) = find_or_add(
            &mut list,
            |d| d.hash == hash,
            |d| d.last_day,
            || OrganisationDestination {
                hash,
                last_day: day,
                sole_user: Some(account),
            },
        );
        if !added {
            entry.sole_user = if entry.last_day < since_day {
                Some(account)
            } else {
                entry.sole_user.filter(|&sole| sole == account)
            };
            entry.last_day = entry.last_day.max(day);
        }
    }

    /// Whether a value of `habit` is new to `group` too, and how surprising a value new to the group
    /// is (Good–Turing over the members' days): `None` when the group uses it.
    pub fn news(
        &self,
        group: &str,
        partition: Option<PartitionRef>,
        habit: Habit,
        hash: u64,
        since_day: i32,
    ) -> Option<f64> {
        let groups = self.habits.get(group);
        let usage = groups.as_ref().and_then(|list| {
            list.iter()
                .find(|(p, h, _)| *p == partition && *h == habit)
                .map(|(_, _, u)| u)
        });
        let Some(usage) = usage else {
            return Some(0.0);
        };
        if usage
            .values
            .iter()
            .any(|&(h, day, _)| h == hash && day >= since_day)
        {
            return None;
        }
        let p_new = (f64::from(usage.singles) + 1.0) / (f64::from(usage.observations) + 1.0);
        Some(crate::detect::stats::z_of_tail(p_new).max(0.0))
    }

    /// Records a member's first use of a value of `habit` on `day`.
    pub fn touch_habit(
        &self,
        group: &str,
        partition: Option<PartitionRef>,
        habit: Habit,
        hash: u64,
        day: i32,
    ) {
        let mut list = match self.habits.get_mut(group) {
            Some(list) => list,
            None => self.habits.entry(group.to_string()).or_default(),
        };
        let index = match list
            .iter()
            .position(|(p, h, _)| *p == partition && *h == habit)
        {
            Some(index) => index,
            None => {
                list.push((partition, habit, Usage::default()));
                list.len() - 1
            }
        };
        let Some((_, _, usage)) = list.get_mut(index) else {
            return;
        };
        usage.observations = usage.observations.saturating_add(1);
        if let Some(entry) = usage.values.iter_mut().find(|(h, _, _)| *h == hash) {
            if entry.2 == 1 {
                usage.singles = usage.singles.saturating_sub(1);
            }
            entry.1 = entry.1.max(day);
            entry.2 = entry.2.saturating_add(1);
            return;
        }
        if usage.values.len() >= HABITS_KEPT {
            if let Some(oldest) = (0..usage.values.len()).min_by_key(|&i| usage.values[i].1) {
                let (_, _, days) = usage.values.swap_remove(oldest);
                usage.observations = usage.observations.saturating_sub(days);
                if days == 1 {
                    usage.singles = usage.singles.saturating_sub(1);
                }
            }
        }
        usage.values.push((hash, day, 1));
        usage.singles = usage.singles.saturating_add(1);
    }
}

/// The entry of `list` that `matches`, or one made by `make` and added (past [`DESTINATIONS_KEPT`] the
/// least recently used, by `last_day`, gives way); and whether it was added.
fn find_or_add<T>(
    list: &mut Vec<T>,
    matches: impl Fn(&T) -> bool,
    last_day: impl Fn(&T) -> i32,
    make: impl FnOnce() -> T,
) -> (&mut T, bool) {
    if let Some(index) = list.iter().position(&matches) {
        return (&mut list[index], false);
    }
    if list.len() >= DESTINATIONS_KEPT {
        if let Some(oldest) = (0..list.len()).min_by_key(|&i| last_day(&list[i])) {
            list.swap_remove(oldest);
        }
    }
    list.push(make());
    let last = list.len() - 1;
    (&mut list[last], true)
}
