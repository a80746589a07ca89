//! The config-sync planner: what `streams apply` changes, and what it leaves to the autoscaler.

use std::collections::{BTreeMap, BTreeSet};

use planner::*;

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:kinesis-autoscaler-alarms";

fn desired(name: &str) -> DesiredStream {
    DesiredStream {
        name: name.into(),
        desired_shards: 4,
        retention_hours: Some(48),
        tags: BTreeMap::from([("team".into(), "data".into())]),
        policy: Policy { min_shards: 2, max_shards: 16, ..Policy::default() },
        deletion_protection: true,
    }
}

/// The `owner` of the file these tests plan for.
fn owner() -> OwnerId {
    OwnerId::new("team-data").expect("valid owner id")
}

fn actions() -> Vec<String> {
    vec![TOPIC.to_owned()]
}

/// What AWS looks like right after a successful apply of `streams` with `open` shards each.
fn applied(streams: &[DesiredStream], open: u32) -> Observed {
    let mut observed = Observed::default();
    for d in streams {
        let mut tags = d.tags.clone();
        tags.extend(managed_tags(&d.policy, d.deletion_protection, Some(&owner())));
        observed.streams.insert(
            d.name.clone(),
            ObservedStream {
                name: d.name.clone(),
                status: StreamStatus::Active,
                open_shards: Some(open),
                retention_hours: d.retention_hours.unwrap_or(DEFAULT_RETENTION_HOURS),
                tags,
                shard_level_metrics: if d.policy.shard_level_metrics {
                    SHARD_METRICS.iter().map(|m| m.as_str().to_owned()).collect()
                } else {
                    BTreeSet::new()
                },
            },
        );
        observed.alarms.extend(alarm_specs(&d.name, open, &d.policy, &actions()).into_iter().map(|s| {
            ObservedAlarm {
                name: s.name.clone(),
                stream: Some(d.name.clone()),
                per_shard: false,
                definition: s.definition(),
            }
        }));
        let ids: Vec<u32> = (0..open).collect();
        observed.alarms.extend(as_observed(&shard_alarm_specs(
            &d.name,
            &shard_ids(&ids),
            &d.policy,
            &actions(),
        )));
    }
    observed
}

fn plan(desired: &[DesiredStream], observed: &Observed, prune: bool) -> SyncPlan {
    plan_sync(SyncInput { desired, observed, alarm_actions: &actions(), owner: Some(&owner()), prune })
}

fn kinds(plan: &StreamPlan) -> Vec<String> {
    plan.changes
        .iter()
        .map(|c| match c {
            Change::CreateStream { shards } => format!("create {shards}"),
            Change::Reshard { from, to, .. } => format!("reshard {from}->{to}"),
            Change::Retention { from, to } => format!("retention {from}->{to}"),
            Change::SetTag { key, .. } => format!("tag {key}"),
            Change::RemoveTag { key, .. } => format!("untag {key}"),
            Change::CreateAlarm { spec } => format!("+alarm {}", spec.metric.as_str()),
            Change::UpdateAlarm { spec, fields } => {
                let f: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
                format!("~alarm {} {}", spec.metric.as_str(), f.join(","))
            }
            Change::DeleteAlarm { name } => format!("-alarm {name}"),
            Change::ShardLevel { enable_metrics, alarms_found, alarms_wanted, .. } => {
                format!("shard-level [{}] {alarms_found}->{alarms_wanted}", enable_metrics.join(","))
            }
        })
        .collect()
}

#[test]
fn a_missing_stream_is_created_with_retention_tags_and_alarms() {
    let plan = plan(&[desired("orders")], &Observed::default(), false);
    assert_eq!(
        kinds(&plan.streams[0]),
        [
            "create 4",
            "retention 24->48",
            "tag kinesis-autoscaler/deletion-protection",
            "tag kinesis-autoscaler/owner",
            "tag kinesis-autoscaler/policy",
            "tag team",
            "+alarm IncomingBytes",
            "+alarm IncomingRecords",
            "+alarm WriteProvisionedThroughputExceeded",
        ]
    );
    assert!(plan.has_changes());
}

#[test]
fn a_stream_just_applied_has_nothing_to_change() {
    let streams = [desired("orders")];
    let plan = plan(&streams, &applied(&streams, 4), false);
    assert!(!plan.has_changes(), "{plan:#?}");
}

#[test]
fn the_autoscalers_shard_count_is_observed_not_drift_and_alarms_follow_it() {
    let streams = [desired("orders")];
    // The autoscaler grew the stream to 9 shards; the file still says desiredShards: 4.
    let plan = plan(&streams, &applied(&streams, 9), false);
    assert!(!plan.has_changes(), "{plan:#?}");
    assert_eq!(plan.streams[0].observed.as_ref().unwrap().open_shards, Some(9));
}

#[test]
fn a_count_outside_min_max_is_brought_to_the_nearest_bound() {
    let streams = [desired("orders")];
    let low = plan(&streams, &applied(&streams, 1), false);
    assert_eq!(kinds(&low.streams[0])[0], "reshard 1->2");
    let high = plan(&streams, &applied(&streams, 20), false);
    let Change::Reshard { to, reason, .. } = &high.streams[0].changes[0] else { panic!() };
    assert_eq!((*to, reason.as_str()), (16, "above maxShards (16)"));
    // The alarms are planned for the count the stream will have.
    assert!(kinds(&high.streams[0]).iter().any(|k| k == "~alarm IncomingBytes description,threshold"));
}

#[test]
fn a_new_threshold_changes_the_alarms_and_the_policy_tag_only() {
    let before = [desired("orders")];
    let mut after = desired("orders");
    after.policy.scale_up.threshold = Ratio::from_percent(70.0).unwrap();
    let plan = plan(&[after], &applied(&before, 4), false);
    assert_eq!(
        kinds(&plan.streams[0]),
        [
            "tag kinesis-autoscaler/policy",
            "~alarm IncomingBytes description,threshold",
            "~alarm IncomingRecords description,threshold",
        ]
    );
}

#[test]
fn retention_changes_both_ways_and_only_a_decrease_is_destructive() {
    let before = [desired("orders")];
    let mut after = desired("orders");
    after.retention_hours = Some(24);
    let shorter = plan(&[after.clone()], &applied(&before, 4), false);
    assert_eq!(kinds(&shorter.streams[0]), ["retention 48->24"]);
    assert!(shorter.streams[0].changes[0].is_destructive());
    assert_eq!(shorter.destructive().len(), 1);
    after.retention_hours = Some(72);
    let longer = plan(&[after], &applied(&before, 4), false);
    assert_eq!(kinds(&longer.streams[0]), ["retention 48->72"]);
    assert!(longer.destructive().is_empty(), "keeping records longer deletes nothing");
}

#[test]
fn an_omitted_retention_keeps_the_live_one_and_a_new_stream_gets_the_kinesis_default() {
    let mut week = desired("orders");
    week.retention_hours = Some(168);
    let observed = applied(&[week], 4);
    let mut unsaid = desired("orders");
    unsaid.retention_hours = None;
    let adopted = plan(std::slice::from_ref(&unsaid), &observed, false);
    assert!(!adopted.has_changes(), "no retention change for a file that does not say: {adopted:#?}");
    let created = plan(&[unsaid], &Observed::default(), false);
    assert!(!kinds(&created.streams[0]).iter().any(|k| k.starts_with("retention")));
}

#[test]
fn every_change_in_the_json_plan_says_whether_it_destroys_data_and_a_saved_plan_reads_back() {
    let before = [desired("orders"), desired("old")];
    let mut shorter = desired("orders");
    shorter.retention_hours = Some(24);
    let mut observed = applied(&before, 4);
    observed.streams.get_mut("old").unwrap().tags.insert(DELETION_PROTECTION_TAG.into(), "off".into());
    let plan = plan(&[shorter], &observed, true);
    let json = serde_json::to_value(&plan).expect("serialises");
    let flags: Vec<(String, bool)> = json["streams"][0]["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_owned(),
                c["destructive"].as_bool().expect("a flag on every change"),
            )
        })
        .collect();
    assert!(flags.contains(&("retention".into(), true)), "{flags:?}");
    assert!(flags.iter().filter(|(kind, _)| kind != "retention").all(|(_, d)| !d), "{flags:?}");
    assert_eq!(json["unlisted"][0]["disposition"]["action"], "delete");
    assert_eq!(plan.destructive().len(), 2, "the decrease and the deletion");
    let read_back: SyncPlan = serde_json::from_value(json).expect("a saved plan reads back");
    assert_eq!(read_back, plan);
}

#[test]
fn tags_not_in_the_file_are_removed_but_aws_and_state_tags_are_kept() {
    let streams = [desired("orders")];
    let mut observed = applied(&streams, 4);
    let tags = &mut observed.streams.get_mut("orders").unwrap().tags;
    tags.insert("old".into(), "x".into());
    tags.insert("aws:cloudformation:stack-name".into(), "s".into());
    tags.insert(format!("{STATE_TAG_PREFIX}last-scaled"), "2026-11-23T08:00:00Z".into());
    assert_eq!(kinds(&plan(&streams, &observed, false).streams[0]), ["untag old"]);
}

#[test]
fn alarm_drift_is_repaired_and_extra_managed_alarms_are_removed() {
    let streams = [desired("orders")];
    let mut observed = applied(&streams, 4);
    // Edited by hand, deleted by hand, and one extra alarm under the tool's prefix.
    observed.alarms[0].definition.threshold = Some(1.0);
    observed.alarms.remove(1);
    observed.alarms.push(ObservedAlarm {
        name: "kinesis-autoscaler-orders-Extra".into(),
        stream: Some("orders".into()),
        per_shard: false,
        definition: AlarmDefinition::default(),
    });
    assert_eq!(
        kinds(&plan(&streams, &observed, false).streams[0]),
        [
            "~alarm IncomingBytes threshold",
            "+alarm IncomingRecords",
            "-alarm kinesis-autoscaler-orders-Extra"
        ]
    );
}

#[test]
fn a_managed_stream_left_out_of_the_file_is_reported_and_deleted_only_when_pruned_and_unprotected() {
    let mut gone = desired("old");
    let kept = [desired("orders")];
    let observed = applied(&[kept[0].clone(), gone.clone()], 4);
    let reported = plan(&kept, &observed, false);
    assert_eq!(reported.unlisted.len(), 1);
    assert!(!reported.unlisted[0].deletes() && reported.unlisted[0].deletion_protection);
    assert!(!reported.has_changes());
    assert_eq!(
        plan(&kept, &observed, true).unlisted[0].disposition,
        Disposition::Keep(KeepReason::DeletionProtection),
        "protection on: --prune alone is not enough"
    );
    gone.deletion_protection = false;
    let observed = applied(&[kept[0].clone(), gone], 4);
    let pruned = plan(&kept, &observed, true);
    assert!(pruned.unlisted[0].deletes());
    assert_eq!(pruned.unlisted[0].alarms.len(), 3, "its alarms go with it");
    assert_eq!(
        plan(&kept, &observed, false).unlisted[0].disposition,
        Disposition::Keep(KeepReason::NotPruning),
        "no --prune, no deletion"
    );
}

#[test]
fn prune_deletes_only_streams_carrying_this_files_owner_id() {
    let unprotected = |name: &str| {
        let mut d = desired(name);
        d.deletion_protection = false;
        d
    };
    let kept = [desired("orders")];
    let mut observed =
        applied(&[kept[0].clone(), unprotected("mine"), unprotected("theirs"), unprotected("by-hand")], 4);
    observed.streams.get_mut("theirs").unwrap().tags.insert(OWNER_TAG.into(), "team-web".into());
    observed.streams.get_mut("by-hand").unwrap().tags.remove(OWNER_TAG);
    let pruned = plan(&kept, &observed, true);
    let dispositions: BTreeMap<&str, &Disposition> =
        pruned.unlisted.iter().map(|u| (u.name.as_str(), &u.disposition)).collect();
    assert_eq!(
        dispositions,
        BTreeMap::from([
            ("by-hand", &Disposition::Keep(KeepReason::NoOwnerTag)),
            ("mine", &Disposition::Delete),
            ("theirs", &Disposition::Keep(KeepReason::OtherOwner { owner: "team-web".into() })),
        ])
    );
    let ownerless = plan_sync(SyncInput {
        desired: &kept,
        observed: &observed,
        alarm_actions: &actions(),
        owner: None,
        prune: true,
    });
    assert!(
        ownerless.unlisted.iter().all(|u| !u.deletes()),
        "a file with no owner deletes nothing: {ownerless:#?}"
    );
}

#[test]
fn a_stream_another_file_owns_is_taken_over_visibly() {
    let streams = [desired("orders")];
    let mut observed = applied(&streams, 4);
    observed.streams.get_mut("orders").unwrap().tags.insert(OWNER_TAG.into(), "team-web".into());
    let plan = plan(&streams, &observed, false);
    assert_eq!(plan.streams[0].observed.as_ref().unwrap().taking_over_from.as_deref(), Some("team-web"));
    assert_eq!(kinds(&plan.streams[0]), ["tag kinesis-autoscaler/owner"]);
}

#[test]
fn owner_ids_are_short_lowercase_words() {
    for ok in ["a", "team-data", "t1", &"x".repeat(32)] {
        assert!(OwnerId::new(ok).is_ok(), "{ok:?}");
    }
    for bad in ["", "-team", "Team", "team data", "team/data", "tëam", &"x".repeat(33)] {
        assert!(OwnerId::new(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn an_unmanaged_stream_absent_from_the_file_is_never_touched() {
    let kept = [desired("orders")];
    let mut observed = applied(&kept, 4);
    let foreign = ObservedStream {
        name: "theirs".into(),
        status: StreamStatus::Active,
        open_shards: Some(2),
        retention_hours: 24,
        tags: BTreeMap::new(),
        shard_level_metrics: BTreeSet::new(),
    };
    observed.streams.insert("theirs".into(), foreign);
    let plan = plan(&kept, &observed, true);
    assert!(plan.unlisted.is_empty() && !plan.has_changes());
}

#[test]
fn an_unmanaged_stream_named_in_the_file_is_adopted() {
    let streams = [desired("orders")];
    let mut observed = applied(&streams, 4);
    observed.streams.get_mut("orders").unwrap().tags.clear();
    let plan = plan(&streams, &observed, false);
    assert!(plan.streams[0].observed.as_ref().unwrap().adopting);
    assert_eq!(kinds(&plan.streams[0]).len(), 4, "four tags to add");
}

#[test]
fn alarms_of_a_stream_that_no_longer_exists_are_deleted() {
    let streams = [desired("orders")];
    let mut observed = applied(&[desired("orders"), desired("vanished")], 4);
    observed.streams.remove("vanished");
    let plan = plan(&streams, &observed, false);
    assert_eq!(plan.orphan_alarms.len(), 3);
    assert!(plan.has_changes());
}

#[test]
fn the_policy_round_trips_through_its_tag() {
    let mut policy = Policy { min_shards: 3, max_shards: 120, ..Policy::default() };
    policy.scale_up.threshold = Ratio::from_percent(62.5).unwrap();
    policy.scale_up.target = Ratio::new(0.55).unwrap();
    policy.scale_up.throttle_alarm = false;
    policy.shard_level_metrics = true;
    let tag = encode_policy(&policy);
    assert!(tag.len() <= 256 && is_valid_tag_text(&tag), "{tag}");
    assert!(tag.contains(" up=62.5 target=55 "), "no float noise: {tag}");
    assert_eq!(decode_policy(&tag), Ok(policy));
}

#[test]
fn a_policy_tag_written_before_shard_level_metrics_existed_means_off() {
    let old = "v1 min=2 max=32 up=75 target=60 period=60 evals=1 cooldown=300 throttle=on bypass=on \
               down=50 downperiod=300 lookback=86400";
    let policy = decode_policy(old).expect("an older tag still decodes");
    assert!(!policy.shard_level_metrics);
    assert_eq!(policy.max_shards, 32);
}

#[test]
fn a_paused_policy_round_trips_through_its_tag_as_paused_on() {
    let paused = Policy { paused: true, ..Policy::default() };
    let tag = encode_policy(&paused);
    assert!(tag.contains(" paused=on "), "{tag}");
    assert_eq!(decode_policy(&tag), Ok(paused));
    assert!(encode_policy(&Policy::default()).contains(" paused=off "));
}

#[test]
fn a_policy_tag_written_before_the_reader_settings_gets_the_default_age_bound_and_no_read_alarm() {
    let old = "v1 min=2 max=32 up=75 target=60 period=60 evals=1 cooldown=300 throttle=on bypass=on down=50 \
               downperiod=300 lookback=86400 shards=off paused=off";
    let policy = decode_policy(old).expect("an older tag still decodes");
    assert_eq!(policy.scale_down.max_iterator_age_secs, Some(DEFAULT_MAX_ITERATOR_AGE_SECS));
    assert!(!policy.scale_up.read_throttle_alarm);
}

#[test]
fn the_iterator_age_guard_and_the_read_alarm_round_trip_through_the_tag() {
    for (age, read_alarm, words) in
        [(None, true, "maxage=off readthrottle=on"), (Some(3_600), false, "maxage=3600 readthrottle=off")]
    {
        let mut policy = Policy::default();
        policy.scale_down.max_iterator_age_secs = age;
        policy.scale_up.read_throttle_alarm = read_alarm;
        let tag = encode_policy(&policy);
        assert!(tag.contains(words), "{tag}");
        assert_eq!(decode_policy(&tag), Ok(policy));
    }
    for (bad, why) in [("maxage=0", "maxage=0 is not"), ("maxage=soon", "maxage= is not a whole number")] {
        let tag = encode_policy(&Policy::default()).replace("maxage=600", bad);
        let err = decode_policy(&tag).unwrap_err().to_string();
        assert!(err.contains(why), "{err}");
    }
}

#[test]
fn a_policy_tag_written_before_pause_existed_means_not_paused() {
    for old in [
        "v1 min=2 max=32 up=75 target=60 period=60 evals=1 cooldown=300 throttle=on bypass=on down=50 \
         downperiod=300 lookback=86400",
        "v1 min=2 max=32 up=75 target=60 period=60 evals=1 cooldown=300 throttle=on bypass=on down=50 \
         downperiod=300 lookback=86400 shards=on",
    ] {
        let policy = decode_policy(old).expect("an older tag still decodes");
        assert!(!policy.paused, "{old}");
    }
}

#[test]
fn the_longest_policy_tag_fits_a_kinesis_tag_value() {
    let mut widest = Policy { min_shards: 10_000, max_shards: 10_000, paused: true, ..Policy::default() };
    widest.scale_up.threshold = Ratio::from_percent(99.999_999).unwrap();
    widest.scale_up.target = Ratio::from_percent(99.999_998).unwrap();
    widest.scale_up.period_secs = 86_400;
    widest.scale_up.evaluation_periods = 100;
    widest.scale_up.cooldown_secs = 86_400;
    widest.scale_up.throttle_alarm = false;
    widest.scale_up.read_throttle_alarm = false;
    widest.scale_down.max_iterator_age_secs = Some(bounds::MAX_ITERATOR_AGE_SECS);
    widest.scale_up.throttle_bypasses_cooldown = false;
    widest.scale_down.threshold = Ratio::from_percent(99.999_997).unwrap();
    widest.scale_down.period_secs = 3_600;
    widest.scale_down.lookback_secs = 604_800;
    widest.shard_level_metrics = true;
    let tag = encode_policy(&widest);
    assert!(tag.len() <= 256, "{} characters, Kinesis allows 256: {tag}", tag.len());
}

#[test]
fn a_policy_tag_edited_into_nonsense_is_rejected_with_the_reason() {
    let tag = encode_policy(&Policy::default()).replace("up=80", "up=lots");
    let err = decode_policy(&tag).unwrap_err().to_string();
    assert!(err.ends_with("up= is not a percentage"), "{err}");
    assert!(decode_policy("min=1").is_err());
}

#[test]
fn a_saved_plan_goes_stale_only_through_what_it_depends_on() {
    let both = [desired("a"), desired("b")];
    let names = ["a".to_owned()];
    let before = applied(&both, 4);
    let noticed =
        |prune: bool, after: &Observed| before.fingerprint(&names, prune) != after.fingerprint(&names, prune);
    let resharded = |stream: &str| {
        let mut after = applied(&both, 4);
        let only = [desired(stream)];
        let grown = applied(&only, 5);
        after.streams.extend(grown.streams);
        after.alarms.retain(|a| a.stream.as_deref() != Some(stream));
        after.alarms.extend(grown.alarms);
        after
    };
    assert!(!noticed(false, &applied(&both, 4)), "the same world");
    assert!(noticed(false, &resharded("a")), "the planned stream resharded");
    assert!(!noticed(false, &resharded("b")), "another managed stream resharded");
    assert!(noticed(true, &resharded("b")), "with --prune every managed stream counts");
    let mut orphaned = applied(&[desired("a"), desired("b"), desired("gone")], 4);
    orphaned.streams.remove("gone");
    assert!(noticed(false, &orphaned), "a new orphan alarm would be deleted");
}

fn shard_ids(ids: &[u32]) -> Vec<ShardId> {
    ids.iter().map(|i| ShardId::new(format!("shardId-{i:012}"))).collect()
}

fn as_observed(specs: &[AlarmSpec]) -> Vec<ObservedAlarm> {
    specs
        .iter()
        .map(|s| ObservedAlarm {
            name: s.name.clone(),
            stream: Some(s.stream.clone()),
            per_shard: true,
            definition: s.definition(),
        })
        .collect()
}

#[test]
fn the_read_throttling_alarm_is_written_only_where_the_policy_turns_it_on() {
    let names = |policy: &Policy| -> Vec<String> {
        alarm_specs("orders", 2, policy, &actions()).into_iter().map(|s| s.name).collect()
    };
    let read_alarm = "kinesis-autoscaler-orders-ReadProvisionedThroughputExceeded".to_owned();
    assert!(!names(&Policy::default()).contains(&read_alarm), "off by default");
    let mut on = Policy::default();
    on.scale_up.read_throttle_alarm = true;
    let specs = alarm_specs("orders", 2, &on, &actions());
    let read = specs.iter().find(|s| s.name == read_alarm).expect("the read alarm");
    assert_eq!(
        (read.metric, read.threshold, read.comparison),
        (Metric::ReadProvisionedThroughputExceeded, 0.0, Comparison::GreaterThanThreshold)
    );
    assert_eq!(AlarmKind::of(read.metric), AlarmKind::ReadThrottle);
    assert!(read.description.contains("reads are being throttled"), "{}", read.description);
}

#[test]
fn shard_alarms_watch_each_open_shard_at_one_shards_threshold_only_when_enabled() {
    let off = Policy::default();
    assert!(shard_alarm_specs("orders", &shard_ids(&[0, 1]), &off, &actions()).is_empty());

    let on = Policy { shard_level_metrics: true, ..Policy::default() };
    let specs = shard_alarm_specs("orders", &shard_ids(&[0, 1]), &on, &actions());
    assert_eq!(specs.len(), 4, "bytes and records for each shard");
    let bytes = &specs[0];
    assert_eq!(bytes.name, "kinesis-autoscaler-orders-shardId-000000000000-IncomingBytes");
    assert!(bytes.name.starts_with(&shard_alarm_prefix("orders")));
    assert_eq!(bytes.shard, Some(ShardId::new("shardId-000000000000")));
    assert_eq!(bytes.threshold, (0.8 * 1_048_576.0 * 60.0_f64).round(), "80% of one shard for 60 s");
    assert_eq!(specs[1].metric, Metric::IncomingRecords);
    assert_eq!(specs[1].threshold, 0.8 * 1000.0 * 60.0);
}

#[test]
fn after_a_split_the_children_get_alarms_and_the_closed_parent_loses_its_own() {
    let on = Policy { shard_level_metrics: true, ..Policy::default() };
    let before = shard_ids(&[0, 1]);
    let existing = as_observed(&shard_alarm_specs("orders", &before, &on, &actions()));
    let after = shard_ids(&[1, 2, 3]);
    let changes = shard_alarm_changes(shard_alarm_specs("orders", &after, &on, &actions()), &existing);
    let put: Vec<&str> = changes.put.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        put,
        [
            "kinesis-autoscaler-orders-shardId-000000000002-IncomingBytes",
            "kinesis-autoscaler-orders-shardId-000000000002-IncomingRecords",
            "kinesis-autoscaler-orders-shardId-000000000003-IncomingBytes",
            "kinesis-autoscaler-orders-shardId-000000000003-IncomingRecords",
        ],
        "shard 1's alarms are unchanged and not rewritten"
    );
    assert_eq!(
        changes.delete,
        [
            "kinesis-autoscaler-orders-shardId-000000000000-IncomingBytes",
            "kinesis-autoscaler-orders-shardId-000000000000-IncomingRecords",
        ]
    );
}

#[test]
fn turning_shard_level_metrics_off_deletes_every_shard_alarm_and_a_new_threshold_rewrites_them() {
    let on = Policy { shard_level_metrics: true, ..Policy::default() };
    let ids = shard_ids(&[0, 1]);
    let existing = as_observed(&shard_alarm_specs("orders", &ids, &on, &actions()));
    let off =
        shard_alarm_changes(shard_alarm_specs("orders", &ids, &Policy::default(), &actions()), &existing);
    assert!(off.put.is_empty());
    assert_eq!(off.delete.len(), 4);

    let mut hotter = on.clone();
    hotter.scale_up.threshold = Ratio::from_percent(90.0).unwrap();
    let changed = shard_alarm_changes(shard_alarm_specs("orders", &ids, &hotter, &actions()), &existing);
    assert_eq!(changed.put.len(), 4, "every alarm's threshold changed");
    assert!(changed.delete.is_empty());
}

fn with_shard_metrics(name: &str) -> DesiredStream {
    let mut d = desired(name);
    d.policy.shard_level_metrics = true;
    d
}

#[test]
fn turning_shard_level_metrics_on_plans_enhanced_metrics_and_an_alarm_per_metric_and_shard() {
    let observed = applied(&[desired("orders")], 4);
    let plan = plan(&[with_shard_metrics("orders")], &observed, false);
    let kinds = kinds(&plan.streams[0]);
    assert!(kinds.contains(&format!("tag {POLICY_TAG}")), "{kinds:?}");
    assert!(kinds.contains(&"shard-level [IncomingBytes,IncomingRecords] 0->8".to_owned()), "{kinds:?}");

    let converged = applied(&[with_shard_metrics("orders")], 4);
    assert!(
        !plan_sync_has_changes(&[with_shard_metrics("orders")], &converged),
        "applied once, nothing left"
    );
}

#[test]
fn shard_alarms_for_a_count_the_autoscaler_changed_or_a_policy_turned_off_are_planned() {
    let mut observed = applied(&[with_shard_metrics("orders")], 4);
    observed.streams.get_mut("orders").unwrap().open_shards = Some(5);
    let resharded = plan(&[with_shard_metrics("orders")], &observed, false);
    let kinds_after = kinds(&resharded.streams[0]);
    assert!(kinds_after.contains(&"shard-level [] 8->10".to_owned()), "{kinds_after:?}");

    let off = plan(&[desired("orders")], &applied(&[with_shard_metrics("orders")], 4), false);
    let kinds = kinds(&off.streams[0]);
    assert!(kinds.contains(&"shard-level [] 8->0".to_owned()), "{kinds:?}");
}

fn plan_sync_has_changes(desired: &[DesiredStream], observed: &Observed) -> bool {
    plan(desired, observed, false).has_changes()
}
