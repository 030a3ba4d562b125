//! What the groups of each partition use: the destinations their members export to (and the
//! organisation's, per partition), the sensitive tables they read and the client applications they use.
//! An account's first use of a value its group already uses is not news (an export to the team's
//! warehouse is not a new destination), and a value new to the group is as surprising as the group's
//! own history of new values says (Good–Turing over member-days).

use dashmap::DashMap;

use crate::engine::accounts::PartitionRef;

/// Destinations remembered per group (and per partition's organisation).
const DESTINATIONS_KEPT: usize = 512;

/// A destination a group used: (partition, destination hash, last day).
type GroupDestination = (Option<PartitionRef>, u64, i32);
/// What a group uses in a partition: (partition, kind, usage).
type GroupHabit = (Option<PartitionRef>, Habit, Usage);

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

/// Values remembered per group and habit.
const HABITS_KEPT: usize = 256;

/// The destinations and habits of every group, per partition.
#[derive(Debug, Default)]
pub struct GroupUsage {
    /// group → (partition, destination hash, last day).
    group_destinations: DashMap<String, Vec<GroupDestination>, ahash::RandomState>,
    /// partition → (destination hash, last day): what the organisation uses.
    organisation_destinations: DashMap<Option<PartitionRef>, Vec<(u64, i32)>, ahash::RandomState>,
    /// group → the sensitive tables its members read and the client applications they use, per
    /// partition and kind.
    habits: DashMap<String, Vec<GroupHabit>, ahash::RandomState>,
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
    }

    /// (new to the group, new to the organisation) for an export to `hash`, judged before it is recorded.
    pub fn destination_news(
        &self,
        group: &str,
        partition: Option<PartitionRef>,
        hash: u64,
        since_day: i32,
    ) -> (bool, bool) {
        let group_known = self.group_destinations.get(group).is_some_and(|list| {
            list.iter()
                .any(|&(p, h, day)| p == partition && h == hash && day >= since_day)
        });
        let organisation_known = self
            .organisation_destinations
            .get(&partition)
            .is_some_and(|list| list.iter().any(|&(h, day)| h == hash && day >= since_day));
        (!group_known, !organisation_known)
    }

    /// Records that an account of `group` exported to `hash` on `day`.
    pub fn touch_destination(
        &self,
        group: &str,
        partition: Option<PartitionRef>,
        hash: u64,
        day: i32,
    ) {
        {
            let mut list = match self.group_destinations.get_mut(group) {
                Some(list) => list,
                None => self
                    .group_destinations
                    .entry(group.to_string())
                    .or_default(),
            };
            touch(
                &mut list,
                (partition, hash),
                day,
                |&(p, h, _)| (p, h),
                |e| &mut e.2,
                |(p, h), d| (p, h, d),
            );
        }
        let mut list = self.organisation_destinations.entry(partition).or_default();
        touch(
            &mut list,
            hash,
            day,
            |&(h, _)| h,
            |e| &mut e.1,
            |h, d| (h, d),
        );
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

/// Updates the last day of `key` in `list`, or adds it; past [`DESTINATIONS_KEPT`] the least recent
/// gives way.
fn touch<T, K: PartialEq + Copy>(
    list: &mut Vec<T>,
    key: K,
    day: i32,
    key_of: impl Fn(&T) -> K,
    day_of: impl Fn(&mut T) -> &mut i32,
    make: impl Fn(K, i32) -> T,
) {
    if let Some(entry) = list.iter_mut().find(|e| key_of(e) == key) {
        let last = day_of(entry);
        *last = (*last).max(day);
        return;
    }
    if list.len() >= DESTINATIONS_KEPT {
        if let Some(oldest) = (0..list.len()).min_by_key(|&i| *day_of(&mut list[i])) {
            list.swap_remove(oldest);
        }
    }
    list.push(make(key, day));
}
